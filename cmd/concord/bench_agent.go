package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"

	"github.com/spf13/cobra"
)

// newBenchAgentCmd is `concord bench agent`: concord agent, unchanged, plus
// Go's net/http/pprof on a separate loopback address, so that bench compare
// (and people) can profile a member under load. Hidden: a tool for
// performance work, not an operations feature.
func newBenchAgentCmd() *cobra.Command {
	cmd := newAgentCmdWith(&agentOptions{})
	cmd.Hidden = true
	cmd.Short = "run concord agent with net/http/pprof on --pprof-addr (for profiling)"
	cmd.Long = `Run concord agent exactly as "concord agent" does, plus Go's net/http/pprof
handlers (/debug/pprof/...) on --pprof-addr. For profiling a member under
load; see docs/performance.md.`
	cmd.Example = `  concord bench agent --pprof-addr 127.0.0.1:6060 --dev
  go tool pprof -seconds 20 http://127.0.0.1:6060/debug/pprof/profile`
	var (
		addr          string
		blockRate     int
		mutexFraction int
	)
	cmd.Flags().StringVar(&addr, "pprof-addr", "127.0.0.1:6060", "address of the pprof HTTP listener")
	cmd.Flags().IntVar(&blockRate, "block-profile-rate", 0, "runtime.SetBlockProfileRate (0: no block profile)")
	cmd.Flags().IntVar(&mutexFraction, "mutex-profile-fraction", 0, "runtime.SetMutexProfileFraction (0: no mutex profile)")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("--pprof-addr: %w", err)
		}
		runtime.SetBlockProfileRate(blockRate)
		runtime.SetMutexProfileFraction(mutexFraction)
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		srv := &http.Server{Handler: mux}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintf(c.ErrOrStderr(), "pprof listener: %v\n", err)
			}
		}()
		defer srv.Close()
		return run(c, args)
	}
	return cmd
}
