package node

import (
	"errors"
	"fmt"
	"testing"
)

// Errors keep their identity across the peer RPC: every sentinel, wrapped
// with context, comes back matching itself (and ErrNoMember still matching
// ErrMember), with its message.
func TestErrorCodesRoundTrip(t *testing.T) {
	for _, sentinel := range codeErrors[1:] {
		wrapped := fmt.Errorf("context: %w", sentinel)
		back := toWireErr(wrapped).err()
		if !errors.Is(back, sentinel) || back.Error() != wrapped.Error() {
			t.Errorf("%v came back as %v", wrapped, back)
		}
	}
	back := toWireErr(fmt.Errorf("%w: n4", ErrNoMember)).err()
	if !errors.Is(back, ErrNoMember) || !errors.Is(back, ErrMember) {
		t.Errorf("ErrNoMember came back as %v", back)
	}
	if back := toWireErr(errors.New("disk on fire")).err(); back == nil || back.Error() != "disk on fire" {
		t.Errorf("an unknown error came back as %v", back)
	}
	if toWireErr(nil).err() != nil {
		t.Error("nil came back as an error")
	}
}
