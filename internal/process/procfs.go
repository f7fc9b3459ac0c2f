package process

import (
	"strconv"

	"github.com/prometheus/procfs"
)

type procStat struct {
	pid       int
	ppid      int
	state     byte
	pgid      int
	startTime uint64
}

func readStat(pid int) (procStat, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procStat{}, err
	}
	s, err := p.Stat()
	if err != nil {
		return procStat{}, err
	}
	st := procStat{pid: pid, ppid: s.PPID, pgid: s.PGRP, startTime: s.Starttime}
	if s.State != "" {
		st.state = s.State[0]
	}
	return st, nil
}

func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}
