//go:build race && unix

package reliability

// raceBuild makes the programs under test race-instrumented too when the
// suite runs with -race: a data race then shows as bytes on stderr.
const raceBuild = true
