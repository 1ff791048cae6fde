package report_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/report"
)

func TestEveryFormatHasAContentType(t *testing.T) {
	t.Parallel()
	for _, f := range report.Formats() {
		require.NotEmpty(t, report.ContentType(f), f)
	}
	require.Equal(t, "text/csv; charset=utf-8", report.ContentType(report.FormatCSV))
	require.Equal(t, "application/json", report.ContentType(report.FormatJSON))
	require.Empty(t, report.ContentType("xml"))
}
