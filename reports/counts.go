package reports

import (
	"strconv"

	"github.com/distrobench/distrobench/internal/result"
)

// FormatPassRate is the share of selected tests that passed ("18.5 %"), or
// "" when no test was selected; not selected tests never count.
func FormatPassRate(c result.Counts) string {
	rate, ok := c.PassRate()
	if !ok {
		return ""
	}
	return strconv.FormatFloat(rate, 'f', 1, 64) + " %"
}
