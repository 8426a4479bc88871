//go:build unix

package reliability

import (
	"os/exec"
	"syscall"
)

// setCredential runs cmd as uid (and the group of the same number).
func setCredential(cmd *exec.Cmd, uid int) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
}
