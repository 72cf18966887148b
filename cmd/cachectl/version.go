package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print cachectl's version: its module, the commit it was built from, and Go's",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := buildVersion()
			if a.asJSON {
				return a.printJSON(with(v, map[string]any{"ok": true}))
			}
			commit := v.Commit
			if v.Modified {
				commit += ", modified"
			}
			if v.Time != "" {
				commit += ", of " + v.Time
			}
			fmt.Fprintf(a.stdout, "cachectl %s (commit %s), %s\n", v.Version, commit, v.Go)
			return nil
		},
	}
}

// version is what version prints.
type version struct {
	Version  string `json:"version"`        // the module's version, "(devel)" when built from a clone
	Commit   string `json:"commit"`         // the VCS revision built, "unknown" without one
	Modified bool   `json:"modified"`       // built with changes not committed
	Time     string `json:"time,omitempty"` // the commit's time
	Go       string `json:"go"`             // the Go toolchain
}

// buildVersion reads the binary's build information.
func buildVersion() version {
	v := version{Version: "(devel)", Commit: "unknown", Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}
