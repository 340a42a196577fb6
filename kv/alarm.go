package kv

import (
	"fmt"
	"slices"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Alarms, as in etcd: a member raises an alarm through the log
// (KindAlarm, ACTIVATE) and an operator disarms it (DEACTIVATE), so every
// member agrees on which are raised and they survive restarts and
// snapshots (the 'A' records of the snapshot). While NOSPACE is raised the
// store is capped like etcd's applierV3Capped: a put, a txn whose chosen or
// unchosen branches put, and a lease grant fail with ErrNoSpace at apply,
// on every member alike; reads, deletes, compaction, lease revokes and
// checkpoints still work, so an operator can free space and disarm.
// Other alarm types are recorded and listed but change no behaviour.

// alarmMember is one raised alarm.
type alarmMember struct {
	member uint64
	alarm  pb.AlarmType
}

func (a alarmMember) less(b alarmMember) int {
	if a.member != b.member {
		if a.member < b.member {
			return -1
		}
		return 1
	}
	return int(a.alarm) - int(b.alarm)
}

// EncodeAlarm encodes an alarm command: ACTIVATE or DEACTIVATE of r.Alarm
// for r.MemberID. (GET needs no log entry: use Store.Alarms.)
func EncodeAlarm(r *pb.AlarmRequest) []byte { return encode(KindAlarm, r) }

// alarm applies an alarm request. ACTIVATE answers the raised alarm
// (whether new or already raised), DEACTIVATE the alarm it removed (none if
// it was not raised), GET every alarm of the type (all for NONE), as etcd's
// applier does.
func (w *writer) alarm(r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	if _, ok := pb.AlarmType_name[int32(r.Alarm)]; !ok {
		return nil, fmt.Errorf("%w: type %d", ErrBadAlarm, r.Alarm)
	}
	a := alarmMember{member: r.MemberID, alarm: r.Alarm}
	resp := &pb.AlarmResponse{}
	i, found := slices.BinarySearchFunc(w.st.alarms, a, alarmMember.less)
	switch r.Action {
	case pb.AlarmRequest_GET:
		resp.Alarms = alarmsOf(w.st.alarms, r.Alarm)
	case pb.AlarmRequest_ACTIVATE:
		if r.MemberID == 0 || r.Alarm == pb.AlarmType_NONE {
			return nil, fmt.Errorf("%w: activate needs a member and a type", ErrBadAlarm)
		}
		if !found {
			w.st.alarms = slices.Insert(slices.Clone(w.st.alarms), i, a)
		}
		resp.Alarms = []*pb.AlarmMember{{MemberID: a.member, Alarm: a.alarm}}
	case pb.AlarmRequest_DEACTIVATE:
		if found {
			w.st.alarms = slices.Delete(slices.Clone(w.st.alarms), i, i+1)
			resp.Alarms = []*pb.AlarmMember{{MemberID: a.member, Alarm: a.alarm}}
		}
	default:
		return nil, fmt.Errorf("%w: action %d", ErrBadAlarm, r.Action)
	}
	resp.Header = w.header()
	return resp, nil
}

func alarmsOf(as []alarmMember, t pb.AlarmType) []*pb.AlarmMember {
	var out []*pb.AlarmMember
	for _, a := range as {
		if t == pb.AlarmType_NONE || a.alarm == t {
			out = append(out, &pb.AlarmMember{MemberID: a.member, Alarm: a.alarm})
		}
	}
	return out
}

func hasAlarm(as []alarmMember, t pb.AlarmType) bool {
	for _, a := range as {
		if a.alarm == t {
			return true
		}
	}
	return false
}

// capped refuses, while NOSPACE is raised, the commands that may grow the
// state.
func (w *writer) capped(k Kind, req Message) error {
	if !hasAlarm(w.st.alarms, pb.AlarmType_NOSPACE) {
		return nil
	}
	switch k {
	case KindPut, KindLeaseGrant:
		return ErrNoSpace
	case KindTxn:
		if txnPuts(req.(*pb.TxnRequest)) {
			return ErrNoSpace
		}
	}
	return nil
}

// txnPuts reports whether any branch of t, nested txns included, puts (as
// etcd's capped applier checks both branches).
func txnPuts(t *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{t.Success, t.Failure} {
		for _, op := range ops {
			if op.GetRequestPut() != nil {
				return true
			}
			if n := op.GetRequestTxn(); n != nil && txnPuts(n) {
				return true
			}
		}
	}
	return false
}

// Alarms returns the raised alarms of type t (every type for NONE), by
// member then type.
func (s *Store) Alarms(t pb.AlarmType) []*pb.AlarmMember { return alarmsOf(s.view().alarms, t) }

// NoSpace reports whether the NOSPACE alarm is raised.
func (s *Store) NoSpace() bool { return hasAlarm(s.view().alarms, pb.AlarmType_NOSPACE) }

// addAlarm restores one 'A' record; records must be in order and distinct.
func (b *restorer) addAlarm(member, t uint64) error {
	if _, ok := pb.AlarmType_name[int32(t)]; !ok || t == 0 || member == 0 || t > 1<<31 {
		return fmt.Errorf("bad alarm %d of member %d", t, member)
	}
	a := alarmMember{member: member, alarm: pb.AlarmType(t)}
	if n := len(b.st.alarms); n > 0 && b.st.alarms[n-1].less(a) >= 0 {
		return fmt.Errorf("alarm %d of member %d out of order", t, member)
	}
	b.st.alarms = append(b.st.alarms, a)
	return nil
}
