package director

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// JSON renders the effective configuration for people (`lvsd validate
// --print`): fields in declaration order, durations as "1.5s", enums and
// service keys by name ("dr", "tcp 192.0.2.1:80"), modes in octal, and
// unset optional fields left out. It is a view, not an interchange format.
func (c *Config) JSON() ([]byte, error) {
	var b bytes.Buffer
	writeReadable(&b, reflect.ValueOf(c))
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("render configuration: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	fileModeType = reflect.TypeFor[fs.FileMode]()
	bytesType    = reflect.TypeFor[[]byte]()
	stringerType = reflect.TypeFor[fmt.Stringer]()
)

func writeJSON(b *bytes.Buffer, v any) {
	enc, _ := json.Marshal(v) // strings and numbers only
	b.Write(enc)
}

func writeReadable(b *bytes.Buffer, v reflect.Value) {
	switch {
	case v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface:
		if v.IsNil() {
			b.WriteString("null")
			return
		}
		writeReadable(b, v.Elem())
		return
	case v.Type() == durationType:
		writeJSON(b, fmtDur(time.Duration(v.Int())))
		return
	case v.Type() == fileModeType:
		writeJSON(b, fmt.Sprintf("%04o", v.Uint()))
		return
	case v.Type() == bytesType:
		if utf8.Valid(v.Bytes()) {
			writeJSON(b, string(v.Bytes()))
		} else {
			writeJSON(b, "hex:"+hex.EncodeToString(v.Bytes()))
		}
		return
	case v.Type().Implements(stringerType) && v.Type().PkgPath() != reflect.TypeFor[Config]().PkgPath():
		if v.IsZero() && v.Kind() == reflect.Struct {
			writeJSON(b, "")
		} else {
			writeJSON(b, v.Interface().(fmt.Stringer).String())
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		b.WriteByte('{')
		first := true
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			tag := f.Tag.Get("json")
			if !f.IsExported() || tag == "-" {
				continue
			}
			if strings.Contains(tag, "omitempty") && v.Field(i).IsZero() {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			writeJSON(b, f.Name)
			b.WriteByte(':')
			writeReadable(b, v.Field(i))
		}
		b.WriteByte('}')
	case reflect.Slice, reflect.Array:
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			writeReadable(b, v.Index(i))
		}
		b.WriteByte(']')
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, k.String())
			b.WriteByte(':')
			writeReadable(b, v.MapIndex(k))
		}
		b.WriteByte('}')
	default:
		writeJSON(b, v.Interface())
	}
}
