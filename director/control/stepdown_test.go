package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director"
)

// fakeVRRP is a director with VRRP instances that records step-downs.
type fakeVRRP struct {
	st    director.Status
	calls []string
}

func (f *fakeVRRP) Status() director.Status { return f.st }

func (f *fakeVRRP) StepDown(_ context.Context, name string, d time.Duration) error {
	for _, in := range f.st.VRRP {
		if in.Name == name || in.SyncGroup == name {
			f.calls = append(f.calls, fmt.Sprintf("%s %v", name, d))
			return nil
		}
	}
	return fmt.Errorf("%w: no vrrp_instance or vrrp_sync_group %q", director.ErrNotFound, name)
}

func TestStepDownFor(t *testing.T) {
	st := director.Status{
		VRRP: []director.VRRPInstanceStatus{
			{Name: "outside", SyncGroup: "g", State: "MASTER"},
			{Name: "inside", SyncGroup: "g", State: "MASTER"},
			{Name: "mgmt", State: "MASTER"},
			{Name: "other", State: "BACKUP"},
		},
		VRRPGroups: []director.VRRPGroupStatus{{Name: "g", State: "MASTER", Instances: []string{"outside", "inside"}}},
	}
	tests := []struct {
		name      string
		wantNames string
		wantCalls string
		wantErr   error
	}{
		{"", "outside,inside,mgmt", "g 30s,mgmt 30s", nil}, // a group once, backups left alone
		{"mgmt", "mgmt", "mgmt 30s", nil},
		{"other", "other", "other 30s", nil}, // a backup: kept from becoming master
		{"g", "outside,inside", "g 30s", nil},
		{"nope", "", "", ErrNoInstance},
	}
	for _, tt := range tests {
		f := &fakeVRRP{st: st}
		names, err := StepDownFor(f)(context.Background(), tt.name, 30*time.Second)
		if !errors.Is(err, tt.wantErr) || strings.Join(names, ",") != tt.wantNames || strings.Join(f.calls, ",") != tt.wantCalls {
			t.Errorf("%q: %v %v, calls %v", tt.name, names, err, f.calls)
		}
	}
	_, err := StepDownFor(&fakeVRRP{st: st})(context.Background(), "nope", time.Second)
	if err == nil || !strings.Contains(err.Error(), "outside, inside, mgmt, other, g (sync group)") {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := StepDownFor(&fakeVRRP{})(context.Background(), "", time.Second); !errors.Is(err, ErrNoVRRP) {
		t.Errorf("no VRRP: %v", err)
	}
}
