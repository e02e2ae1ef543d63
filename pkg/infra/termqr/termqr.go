// Package termqr draws a QR code image in a terminal with Unicode half blocks, two rows of
// modules per line, so that a login QR code can be scanned straight from `make run`'s output.
package termqr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // WeChat's login QR code is a JPEG
	_ "image/png"
	"strings"
)

// Render reads a QR code PNG or JPEG (dark modules on a light background) and draws it. The module
// size is read off the top-left finder pattern, whose top edge is seven modules wide, so any
// clean rendering of a QR code works, whatever its scale.
func Render(pngData []byte) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(pngData))
	if err != nil {
		return "", fmt.Errorf("termqr: %w", err)
	}
	b := img.Bounds()
	dark := func(x, y int) bool {
		r, g, bl, _ := img.At(x, y).RGBA()
		return (r+g+bl)/3 < 0x8000
	}
	// The first dark pixel, scanning rows top-down, is the finder's top-left corner.
	x0, y0 := -1, -1
	for y := b.Min.Y; y < b.Max.Y && x0 < 0; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if dark(x, y) {
				x0, y0 = x, y
				break
			}
		}
	}
	if x0 < 0 {
		return "", errors.New("termqr: no dark pixel: not a QR code")
	}
	run := 0
	for x := x0; x < b.Max.X && dark(x, y0); x++ {
		run++
	}
	module := float64(run) / 7
	if module < 1 {
		return "", errors.New("termqr: modules smaller than a pixel")
	}
	// The code is square and starts at the finder: count modules until the image ends.
	n := int(float64(b.Max.X-x0)/module + 0.5)
	grid := make([][]bool, 0, n)
	for j := 0; j < n; j++ {
		y := y0 + int((float64(j)+0.5)*module)
		if y >= b.Max.Y {
			break
		}
		row := make([]bool, n)
		for i := range row {
			if x := x0 + int((float64(i)+0.5)*module); x < b.Max.X {
				row[i] = dark(x, y)
			}
		}
		grid = append(grid, row)
	}
	return draw(trim(grid)), nil
}

// trim drops the light margin on the right and at the bottom (the quiet zone after the code).
func trim(g [][]bool) [][]bool {
	maxX, maxY := 0, 0
	for y, row := range g {
		for x, d := range row {
			if d {
				maxX, maxY = max(maxX, x), max(maxY, y)
			}
		}
	}
	g = g[:maxY+1]
	for i := range g {
		g[i] = g[i][:maxX+1]
	}
	return g
}

// draw prints dark modules as blank and light ones as blocks, with a two-module quiet zone,
// which reads right on the usual dark terminal background.
func draw(g [][]bool) string {
	const quiet = 2
	w := len(g[0]) + 2*quiet
	at := func(x, y int) bool { // true = dark
		x, y = x-quiet, y-quiet
		if y < 0 || y >= len(g) || x < 0 || x >= len(g[y]) {
			return false
		}
		return g[y][x]
	}
	var sb strings.Builder
	for y := 0; y < len(g)+2*quiet; y += 2 {
		for x := 0; x < w; x++ {
			top, bottom := !at(x, y), !at(x, y+1) // light = drawn
			switch {
			case top && bottom:
				sb.WriteRune('█')
			case top:
				sb.WriteRune('▀')
			case bottom:
				sb.WriteRune('▄')
			default:
				sb.WriteRune(' ')
			}
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}
