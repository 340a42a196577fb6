package sqlstore

import "testing"

func TestStatus(t *testing.T) {
	s := openTestStore(t)
	applyReq(t, s, 7, Request{Statements: stmts("CREATE TABLE t (v BLOB)", "INSERT INTO t VALUES (zeroblob(100000))")})
	st := s.Status()
	if st.AppliedIndex != 7 || st.SizeBytes < 100000 {
		t.Fatalf("status %+v", st)
	}
}
