package cmdutil

import (
	"strings"

	"github.com/spf13/pflag"
)

// MissingValues finds a flag whose value is another flag: pflag takes the
// next argument as the value of a flag that needs one, so "-d --stack x"
// would send the body "--stack".
func MissingValues(fs *pflag.FlagSet) error {
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if err != nil || f.Value.Type() == "bool" {
			return
		}
		v := f.Value.String()
		name, _, _ := strings.Cut(strings.TrimLeft(v, "-"), "=")
		if !strings.HasPrefix(v, "-") || name == "" {
			return
		}
		if fs.Lookup(name) != nil || (len(name) == 1 && fs.ShorthandLookup(name) != nil) || v == "--" {
			err = Usagef("flag needs an argument: --%s (got the flag %s instead)", f.Name, v)
		}
	})
	return err
}
