//go:build !linux

package main

import (
	"syscall"
	"time"
)

// childAttr is nil off Linux: there is no parent-death signal.
func childAttr() *syscall.SysProcAttr { return nil }

// selfCPU is unknown off Linux.
func selfCPU() time.Duration { return 0 }
