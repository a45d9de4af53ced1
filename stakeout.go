// Package stakeout carries this repository's configuration — the rules/ and
// owners/ folders — embedded, so that every Lambda binary built from a
// commit routes with exactly that commit's files: `sam deploy` ships the
// configuration reviewed in the pull request, and the digest on each audit
// record names it. The Go code lives under internal/, functions/ and cmd/.
package stakeout

import "embed"

// Config holds rules/ and owners/ as of the build: the whole folders, so
// that every file the loader reads (.yaml and .yml) is in the binary.
//
//go:embed rules owners
var Config embed.FS
