package server

import "runtime/debug"

// buildVersion is Config.Version's default: the main module's version
// ("(devel)" for a build from a checkout) with the first 12 digits of the
// VCS revision when the build recorded it, or "unknown".
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "unknown"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
