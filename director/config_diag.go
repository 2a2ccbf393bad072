package director

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// WriteDiagnostics renders diags with HCL's diagnostic text writer:
// severity, summary, file:line:col, the offending source line with the
// value marked, the values of the variables involved, and the detail. sources maps file names to their content; a file it lacks is
// read from disk (LoadConfig's files), and one that cannot be read is shown
// without a snippet. width wraps the detail text (0: no wrapping); color
// adds terminal colours.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, sources map[string][]byte, width uint, color bool) error {
	files := map[string]*hcl.File{}
	for _, diag := range diags {
		for _, r := range []*hcl.Range{diag.Subject, diag.Context} {
			if r == nil || r.Filename == "" || files[r.Filename] != nil {
				continue
			}
			src, ok := sources[r.Filename]
			if !ok {
				b, err := readLimited(r.Filename)
				if err != nil {
					continue
				}
				src = b
			}
			// Only the bytes are needed for snippets; a file with syntax
			// errors still renders.
			f, _ := hclsyntax.ParseConfig(src, r.Filename, hcl.InitialPos)
			if f == nil {
				f = &hcl.File{}
			}
			f.Bytes = src
			files[r.Filename] = f
		}
	}
	var buf bytes.Buffer
	tw := hcl.NewDiagnosticTextWriter(&buf, files, width, color)
	for _, diag := range diags {
		buf.Reset()
		if err := tw.WriteDiagnostic(diag); err != nil {
			return err
		}
		out := buf.Bytes()
		if diag.Subject != nil {
			out = addColumn(out, diag.Subject, files[diag.Subject.Filename], color)
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// addColumn turns the text writer's "on FILE line N" into the
// FILE:LINE:COL that editors jump to, and without colour (where the writer
// cannot underline) marks the subject under its source line with carets.
func addColumn(out []byte, subj *hcl.Range, f *hcl.File, color bool) []byte {
	old := fmt.Sprintf("  on %s line %d", subj.Filename, subj.Start.Line)
	pos := fmt.Sprintf("  on %s:%d:%d", subj.Filename, subj.Start.Line, subj.Start.Column)
	out = bytes.Replace(out, []byte(old), []byte(pos), 1)
	if color || f == nil || f.Bytes == nil {
		return out
	}
	// The source line as the writer printed it: "%4d: <line>\n".
	prefix := []byte(fmt.Sprintf("\n%4d: ", subj.Start.Line))
	i := bytes.Index(out, prefix)
	if i < 0 {
		return out
	}
	eol := bytes.IndexByte(out[i+len(prefix):], '\n')
	if eol < 0 {
		return out
	}
	end := i + len(prefix) + eol
	line := out[i+len(prefix) : end]
	// Byte offsets of the subject within its first line.
	lineStart := subj.Start.Byte - (subj.Start.Column - 1)
	startOff := subj.Start.Byte - lineStart
	endOff := len(line)
	if subj.End.Line == subj.Start.Line {
		endOff = subj.End.Byte - lineStart
	}
	if startOff < 0 || startOff > len(line) || endOff < startOff {
		return out
	}
	endOff = min(endOff, len(line))
	var marks []byte
	marks = append(marks, "      "...)
	for _, c := range string(line[:startOff]) {
		if c == '\t' {
			marks = append(marks, '\t')
		} else {
			marks = append(marks, ' ')
		}
	}
	n := utf8.RuneCount(line[startOff:endOff])
	marks = append(marks, bytes.Repeat([]byte{'^'}, max(n, 1))...)
	res := make([]byte, 0, len(out)+len(marks)+1)
	res = append(res, out[:end+1]...)
	res = append(res, marks...)
	res = append(res, '\n')
	res = append(res, out[end+1:]...)
	return res
}

// FormatDiagnostics renders diags as WriteDiagnostics does, without colour
// or wrapping, for logs.
func FormatDiagnostics(diags hcl.Diagnostics, sources map[string][]byte) string {
	var b bytes.Buffer
	_ = WriteDiagnostics(&b, diags, sources, 0, false) // a bytes.Buffer does not fail
	return b.String()
}
