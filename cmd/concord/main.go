// Command concord is the concord server (concord agent) and its command-line
// client (concord status, concord members, ...). See README.md and
// docs/operations.md.
package main

import "os"

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}
