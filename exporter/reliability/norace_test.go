//go:build !race && unix

package reliability

const raceBuild = false
