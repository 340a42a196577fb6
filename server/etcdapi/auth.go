package etcdapi

import (
	"context"

	"github.com/concord-db/concord/auth"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// authService is etcd's Auth API over the auth store. The store checks
// who may do what (root for changes and lists, a user for itself and its
// roles); the interceptor has put the caller's identity in ctx.
type authService struct {
	a *API
	s *auth.Store
}

func (s *authService) hdr() *pb.ResponseHeader { return s.a.header(nil) }

func (s *authService) AuthEnable(ctx context.Context, _ *pb.AuthEnableRequest) (*pb.AuthEnableResponse, error) {
	if err := s.s.AuthEnable(ctx, identityFrom(ctx)); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthEnableResponse{Header: s.hdr()}, nil
}

func (s *authService) AuthDisable(ctx context.Context, _ *pb.AuthDisableRequest) (*pb.AuthDisableResponse, error) {
	if err := s.s.AuthDisable(ctx, identityFrom(ctx)); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthDisableResponse{Header: s.hdr()}, nil
}

func (s *authService) AuthStatus(ctx context.Context, _ *pb.AuthStatusRequest) (*pb.AuthStatusResponse, error) {
	on, rev, err := s.s.AuthStatus(ctx, identityFrom(ctx))
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthStatusResponse{Header: s.hdr(), Enabled: on, AuthRevision: rev}, nil
}

func (s *authService) Authenticate(ctx context.Context, r *pb.AuthenticateRequest) (*pb.AuthenticateResponse, error) {
	token, err := s.s.Authenticate(ctx, r.Name, r.Password)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthenticateResponse{Header: s.hdr(), Token: token}, nil
}

func (s *authService) UserAdd(ctx context.Context, r *pb.AuthUserAddRequest) (*pb.AuthUserAddResponse, error) {
	if err := s.s.UserAdd(ctx, identityFrom(ctx), r); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthUserAddResponse{Header: s.hdr()}, nil
}

func (s *authService) UserGet(ctx context.Context, r *pb.AuthUserGetRequest) (*pb.AuthUserGetResponse, error) {
	roles, err := s.s.UserGet(ctx, identityFrom(ctx), r.Name)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthUserGetResponse{Header: s.hdr(), Roles: roles}, nil
}

func (s *authService) UserList(ctx context.Context, _ *pb.AuthUserListRequest) (*pb.AuthUserListResponse, error) {
	users, err := s.s.UserList(ctx, identityFrom(ctx))
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthUserListResponse{Header: s.hdr(), Users: users}, nil
}

func (s *authService) UserDelete(ctx context.Context, r *pb.AuthUserDeleteRequest) (*pb.AuthUserDeleteResponse, error) {
	if err := s.s.UserDelete(ctx, identityFrom(ctx), r.Name); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthUserDeleteResponse{Header: s.hdr()}, nil
}

func (s *authService) UserChangePassword(ctx context.Context, r *pb.AuthUserChangePasswordRequest) (*pb.AuthUserChangePasswordResponse, error) {
	if err := s.s.UserChangePassword(ctx, identityFrom(ctx), r); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthUserChangePasswordResponse{Header: s.hdr()}, nil
}

func (s *authService) UserGrantRole(ctx context.Context, r *pb.AuthUserGrantRoleRequest) (*pb.AuthUserGrantRoleResponse, error) {
	if err := s.s.UserGrantRole(ctx, identityFrom(ctx), r.User, r.Role); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthUserGrantRoleResponse{Header: s.hdr()}, nil
}

func (s *authService) UserRevokeRole(ctx context.Context, r *pb.AuthUserRevokeRoleRequest) (*pb.AuthUserRevokeRoleResponse, error) {
	if err := s.s.UserRevokeRole(ctx, identityFrom(ctx), r.Name, r.Role); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthUserRevokeRoleResponse{Header: s.hdr()}, nil
}

func (s *authService) RoleAdd(ctx context.Context, r *pb.AuthRoleAddRequest) (*pb.AuthRoleAddResponse, error) {
	if err := s.s.RoleAdd(ctx, identityFrom(ctx), r.Name); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthRoleAddResponse{Header: s.hdr()}, nil
}

func (s *authService) RoleGet(ctx context.Context, r *pb.AuthRoleGetRequest) (*pb.AuthRoleGetResponse, error) {
	perms, err := s.s.RoleGet(ctx, identityFrom(ctx), r.Role)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthRoleGetResponse{Header: s.hdr(), Perm: perms}, nil
}

func (s *authService) RoleList(ctx context.Context, _ *pb.AuthRoleListRequest) (*pb.AuthRoleListResponse, error) {
	roles, err := s.s.RoleList(ctx, identityFrom(ctx))
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthRoleListResponse{Header: s.hdr(), Roles: roles}, nil
}

func (s *authService) RoleDelete(ctx context.Context, r *pb.AuthRoleDeleteRequest) (*pb.AuthRoleDeleteResponse, error) {
	if err := s.s.RoleDelete(ctx, identityFrom(ctx), r.Role); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthRoleDeleteResponse{Header: s.hdr()}, nil
}

func (s *authService) RoleGrantPermission(ctx context.Context, r *pb.AuthRoleGrantPermissionRequest) (*pb.AuthRoleGrantPermissionResponse, error) {
	if err := s.s.RoleGrantPermission(ctx, identityFrom(ctx), r.Name, r.Perm); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthRoleGrantPermissionResponse{Header: s.hdr()}, nil
}

func (s *authService) RoleRevokePermission(ctx context.Context, r *pb.AuthRoleRevokePermissionRequest) (*pb.AuthRoleRevokePermissionResponse, error) {
	if err := s.s.RoleRevokePermission(ctx, identityFrom(ctx), r.Role, r.Key, r.RangeEnd); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.AuthRoleRevokePermissionResponse{Header: s.hdr()}, nil
}
