package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The CLI reference, docs/cli.md, is generated from the command tree
// (`make docs`) so that it cannot drift from `lvsd help`: a test fails
// when it is stale. Hand-rolled rather than cobra/doc, which writes a file
// per command: one page reads and greps better.

func newGenDocsCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:    "gen-docs",
		Short:  "Write the markdown CLI reference (docs/cli.md)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var b bytes.Buffer
			if err := writeCLIReference(&b, cmd.Root()); err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err := cmd.OutOrStdout().Write(b.Bytes())
				return err
			}
			return os.WriteFile(out, b.Bytes(), 0o644)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to `file` instead of standard output")
	return cmd
}

// documented lists the commands of the reference: visible ones, in the
// order `lvsd help` lists them, without help itself.
func documented(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() || sub.Name() == "help" {
			continue
		}
		out = append(out, sub)
		out = append(out, documented(sub)...)
	}
	return out
}

func writeCLIReference(w io.Writer, root *cobra.Command) error {
	root.InitDefaultHelpCmd()
	var b strings.Builder
	b.WriteString("# lvsd command reference\n\n")
	b.WriteString("<!-- Generated from the command tree by `make docs` (lvsd gen-docs); do not edit. -->\n\n")
	fmt.Fprintf(&b, "%s.\n\n", root.Short)
	b.WriteString("`lvsd help COMMAND` (or `lvsd COMMAND --help`) prints the same text in a terminal.\n\n")
	cmds := documented(root)
	for _, c := range cmds {
		fmt.Fprintf(&b, "- [`%s`](#%s): %s\n", c.CommandPath(), anchor(c.CommandPath()), c.Short)
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "\n## %s\n\n%s.\n\n", c.CommandPath(), c.Short)
		fmt.Fprintf(&b, "```\n%s\n```\n\n", c.UseLine())
		if c.Long != "" {
			b.WriteString(markdownText(c.Long) + "\n\n")
		}
		if c.Example != "" {
			fmt.Fprintf(&b, "Examples:\n\n```\n%s\n```\n\n", strings.TrimRight(c.Example, "\n"))
		}
		if fs := c.NonInheritedFlags(); fs.HasAvailableFlags() {
			fmt.Fprintf(&b, "Flags:\n\n```\n%s```\n\n", flagUsages(fs))
		}
		if fs := c.InheritedFlags(); fs.HasAvailableFlags() {
			fmt.Fprintf(&b, "Global flags:\n\n```\n%s```\n\n", flagUsages(fs))
		}
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

// flagUsages is pflag's usage text without the help flag every command
// has.
func flagUsages(fs *pflag.FlagSet) string {
	clone := pflag.NewFlagSet("", pflag.ContinueOnError)
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !f.Hidden {
			clone.AddFlag(f)
		}
	})
	return clone.FlagUsagesWrapped(100)
}

// markdownText keeps a Long text's paragraphs, and turns its indented
// lines into code blocks.
func markdownText(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	isCode := func(l string) bool { return strings.HasPrefix(l, "  ") }
	var out []string
	inCode := false
	for i, line := range lines {
		switch {
		case isCode(line) && !inCode:
			out = append(out, "```")
			inCode = true
		case inCode && !isCode(line):
			// A blank line inside a block stays in it if code follows.
			next := i + 1
			for next < len(lines) && lines[next] == "" {
				next++
			}
			if line != "" || next == len(lines) || !isCode(lines[next]) {
				out = append(out, "```")
				inCode = false
			}
		}
		if inCode {
			line = strings.TrimPrefix(line, "  ")
		}
		out = append(out, line)
	}
	if inCode {
		out = append(out, "```")
	}
	return strings.Join(out, "\n")
}

// anchor is GitHub's heading anchor.
func anchor(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), " ", "-")
}
