package cmdutil

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// A flag that needs a value and got the next flag instead is a usage
// error, wherever it stands; a value that merely starts with a dash is not.
func TestMissingValues(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" for no error
	}{
		{[]string{"-d", "--verbose"}, "flag needs an argument: --data (got the flag --verbose instead)"},
		{[]string{"-d", "-v"}, "flag needs an argument: --data (got the flag -v instead)"},
		{[]string{"--data", "--name=x"}, "flag needs an argument: --data (got the flag --name=x instead)"},
		{[]string{"-d", "--"}, ""}, // pflag ends flags at "--": -d has no value, pflag says so itself
		{[]string{"-d=-1"}, ""},
		{[]string{"-d", "-unknown"}, ""},
		{[]string{"--name", "ada", "-v"}, ""},
	}
	for _, tt := range tests {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		cmd.Flags().StringP("data", "d", "", "")
		cmd.Flags().String("name", "", "")
		cmd.Flags().BoolP("verbose", "v", false, "")
		if err := cmd.Flags().Parse(tt.args); err != nil {
			if tt.want != "" {
				t.Errorf("%v: parse error %v", tt.args, err)
			}
			continue
		}
		err := MissingValues(cmd.Flags())
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v, want no error", tt.args, err)
		case tt.want != "" && (err == nil || !IsUsage(err) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: %v, want a usage error %q", tt.args, err, tt.want)
		}
	}
}

func TestNoArgs(t *testing.T) {
	if err := NoArgs(nil, nil); err != nil {
		t.Errorf("no args: %v", err)
	}
	if err := NoArgs(nil, []string{"extra"}); !IsUsage(err) || err.Error() != `unexpected argument "extra"` {
		t.Errorf("an arg: %v", err)
	}
}
