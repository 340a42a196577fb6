package auth

import "errors"

// Errors of the auth store. Their texts are etcd's server/auth errors; the
// etcd API maps each to etcd's gRPC error (rpctypes) and the REST API to
// an HTTP status, in one table each. Apply encodes them in its result by
// their position in resultErrors, so the list only grows at the end.
var (
	ErrRootUserNotExist     = errors.New("auth: root user does not exist")
	ErrRootRoleNotExist     = errors.New("auth: root user does not have root role")
	ErrUserAlreadyExist     = errors.New("auth: user already exists")
	ErrUserEmpty            = errors.New("auth: user name is empty")
	ErrUserNotFound         = errors.New("auth: user not found")
	ErrRoleAlreadyExist     = errors.New("auth: role already exists")
	ErrRoleNotFound         = errors.New("auth: role not found")
	ErrRoleEmpty            = errors.New("auth: role name is empty")
	ErrPermissionNotGiven   = errors.New("auth: permission not given")
	ErrAuthFailed           = errors.New("auth: authentication failed, invalid user ID or password")
	ErrNoPasswordUser       = errors.New("auth: authentication failed, password was given for no password user")
	ErrPermissionDenied     = errors.New("auth: permission denied")
	ErrRoleNotGranted       = errors.New("auth: role is not granted to the user")
	ErrPermissionNotGranted = errors.New("auth: permission is not granted to the role")
	ErrAuthNotEnabled       = errors.New("auth: authentication is not enabled")
	ErrAuthOldRevision      = errors.New("auth: revision in header is old")
	ErrInvalidAuthToken     = errors.New("auth: invalid auth token")
	ErrInvalidAuthMgmt      = errors.New("auth: invalid auth management")

	// ErrBadCommand is returned (encoded) by Apply for a command it cannot
	// decode, and by DecodeCommand. Nothing is changed.
	ErrBadCommand = errors.New("auth: malformed command")
	// ErrBadResult is returned for bytes that are not an apply result.
	ErrBadResult = errors.New("auth: malformed result")
	// ErrBadSnapshot is returned by Restore and ValidateSnapshot for a
	// section they cannot decode.
	ErrBadSnapshot = errors.New("auth: malformed snapshot section")
	// ErrInvalidAuthOpts is returned for a --auth-token value that names an
	// unknown token type or malformed options.
	ErrInvalidAuthOpts = errors.New("auth: invalid auth options")
	// ErrInvalidPermType is returned for a permission type other than
	// READ, WRITE and READWRITE.
	ErrInvalidPermType = errors.New("auth: invalid permission type")
)

// resultErrors lists the errors Apply may return, by wire code (the index;
// 0 is success). Append only: codes are in the log.
var resultErrors = []error{
	nil,
	ErrRootUserNotExist,
	ErrRootRoleNotExist,
	ErrUserAlreadyExist,
	ErrUserEmpty,
	ErrUserNotFound,
	ErrRoleAlreadyExist,
	ErrRoleNotFound,
	ErrRoleEmpty,
	ErrPermissionNotGiven,
	ErrAuthFailed,
	ErrNoPasswordUser,
	ErrPermissionDenied,
	ErrRoleNotGranted,
	ErrPermissionNotGranted,
	ErrAuthNotEnabled,
	ErrAuthOldRevision,
	ErrInvalidAuthToken,
	ErrInvalidAuthMgmt,
	ErrBadCommand,
	ErrInvalidPermType,
}

// errorCode returns err's wire code; unknown errors are ErrBadCommand's.
func errorCode(err error) byte {
	for i, e := range resultErrors {
		if i > 0 && e == err {
			return byte(i)
		}
	}
	return errorCode(ErrBadCommand)
}
