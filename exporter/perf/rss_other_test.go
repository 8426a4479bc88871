//go:build !unix

package perf_test

import "os"

// maxRSSKB is unknown here.
func maxRSSKB(*os.ProcessState) float64 { return 0 }
