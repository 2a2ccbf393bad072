// Package kaconf reads keepalived configuration files and converts them to
// lvsd HCL: the engine behind `lvsd import`.
//
// Reading follows keepalived's own parser (lib/parser.c in keepalived 2.2):
// '!' and '#' comments anywhere outside double quotes, braces that may sit
// on the keyword's line or the next, include (and its includer/includem/...
// variants) with globs and brace expansion relative to the including file's
// directory, conditional lines (@ID, @^ID), and $NAME parameter
// definitions, single- and multi-line. Everything is read into a tree of
// Nodes that keeps each statement's file and line.
//
// Converting maps every keyword that lvsd can express, with keepalived's
// defaults made explicit wherever lvsd's differ (VRRP version, priority,
// check intervals and timeouts, the protocol), and reports everything else
// as a Warning with its file:line: nothing is dropped silently. The output
// is formatted HCL written with hclwrite, each block commented with where it
// came from, and Import checks it with director.ParseConfig.
//
// The package knows nothing of the kernel, the network or the daemon: it is
// text in, text and warnings out.
package kaconf
