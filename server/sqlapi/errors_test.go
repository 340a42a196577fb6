package sqlapi

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/concord-db/concord/node"
	"github.com/concord-db/concord/sqlstore"
)

// TestErrorStatusOfWrappedStoreErrors checks the one mapping of the
// database's and the node's errors, wrapped as sqlstore and node return them.
func TestErrorStatusOfWrappedStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{sqlstore.ErrParams, http.StatusBadRequest},
		{sqlstore.ErrForbidden, http.StatusBadRequest},
		{sqlstore.ErrNotDeterministic, http.StatusBadRequest},
		{sqlstore.ErrResultTooLarge, http.StatusBadRequest},
		{sqlstore.ErrTooManyStatements, http.StatusRequestEntityTooLarge},
		{sqlstore.ErrCommandTooLarge, http.StatusRequestEntityTooLarge},
		{sqlstore.ErrLoadTooLarge, http.StatusRequestEntityTooLarge},
		{sqlstore.ErrBadLoad, http.StatusBadRequest},
		{sqlstore.ErrQueryTimeout, http.StatusGatewayTimeout},
		{sqlstore.ErrStale, http.StatusServiceUnavailable},
		{sqlstore.ErrDamaged, http.StatusServiceUnavailable},
		{sqlstore.ErrResultUnavailable, http.StatusAccepted},
		{sqlstore.ErrClosed, http.StatusServiceUnavailable},
		{node.ErrNoLeader, http.StatusServiceUnavailable},
		{node.ErrUnknownOutcome, http.StatusGatewayTimeout},
		{fmt.Errorf("something else"), http.StatusInternalServerError},
	} {
		if got := errorStatus(fmt.Errorf("statement 2: %w", tc.err)); got != tc.want {
			t.Errorf("%v: status %d, want %d", tc.err, got, tc.want)
		}
	}
}
