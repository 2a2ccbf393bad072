package kaconf

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/lvsd/lvsd/director"
)

// Result is a converted configuration, checked by lvsd's own decoder.
type Result struct {
	// HCL is the lvsd configuration.
	HCL []byte
	// Warnings are what did not map (and notes on what changed form), in
	// the order of the keepalived files.
	Warnings []Warning
	// Files are the keepalived files read.
	Files []string
	// Config is HCL decoded by director.ParseConfig; nil when Diags has
	// errors.
	Config *director.Config
	// Diags are director.ParseConfig's diagnostics on HCL: warnings of
	// lvsd's own (a quorum that can never be reached, ...), and errors
	// when the keepalived configuration holds something lvsd refuses (two
	// instances with one VRID on an interface, ...).
	Diags hcl.Diagnostics
}

// Import reads the keepalived configuration at path (with its includes),
// converts it and validates the result. The error is an ErrorList when
// the keepalived configuration cannot be read; a conversion that lvsd
// refuses is not an error here but shows in Result.Diags.
func Import(path string, opts ParseOptions) (*Result, error) {
	f, err := ParseFile(path, opts)
	if err != nil {
		return &Result{Warnings: f.Warnings, Files: f.Files}, err
	}
	return ConvertAndValidate(f, OutputName), nil
}

// OutputName is the file name lvsd's diagnostics on the output use.
const OutputName = "lvsd.hcl"

// ConvertAndValidate converts f and decodes the output with
// director.ParseConfig, naming it name in diagnostics.
func ConvertAndValidate(f *File, name string) *Result {
	cv := Convert(f)
	cfg, diags := director.ParseConfig(cv.HCL, name, nil)
	return &Result{HCL: cv.HCL, Warnings: cv.Warnings, Files: f.Files, Config: cfg, Diags: diags}
}
