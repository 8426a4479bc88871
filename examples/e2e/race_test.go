//go:build race

package e2e_test

// raceBuild makes the example binaries race-instrumented too when the tests
// run with -race.
const raceBuild = true
