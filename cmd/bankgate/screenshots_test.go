package main

import (
	"bytes"
	"cmp"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"slices"
	"testing"
)

// compactPNG re-encodes a screenshot small enough to keep in the
// repository: as a paletted image (exactly, when it has at most 256
// colours, else with a median-cut palette of 256, which is hard to tell
// apart for flat UI with anti-aliased text) with the best compression.
func compactPNG(t *testing.T, b []byte) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	var out image.Image = img
	if p := palettedOf(img); p != nil {
		out = p
	} else {
		out = quantize(img, 256)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, out); err != nil {
		t.Fatal(err)
	}
	if buf.Len() >= len(b) {
		return b
	}
	return buf.Bytes()
}

// palettedOf returns img as a paletted image, or nil if it has more than
// 256 colours.
func palettedOf(img image.Image) *image.Paletted {
	bounds := img.Bounds()
	index := map[color.RGBA]uint8{}
	var pal color.Palette
	p := image.NewPaletted(bounds, nil)
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			i, ok := index[c]
			if !ok {
				if len(pal) == 256 {
					return nil
				}
				i = uint8(len(pal))
				index[c] = i
				pal = append(pal, c)
			}
			p.Pix[(y-bounds.Min.Y)*p.Stride+(x-bounds.Min.X)] = i
		}
	}
	p.Palette = pal
	return p
}

// writeContactSheet puts PNG images side by side, 24 px apart on a
// neutral background, and writes the result to path.
func writeContactSheet(t *testing.T, path string, files []string) {
	t.Helper()
	const gap = 24
	var imgs []image.Image
	w, h := gap, 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		imgs = append(imgs, img)
		w += img.Bounds().Dx() + gap
		h = max(h, img.Bounds().Dy())
	}
	sheet := image.NewRGBA(image.Rect(0, 0, w, h+2*gap))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.RGBA{0x80, 0x86, 0x90, 0xff}), image.Point{}, draw.Src)
	x := gap
	for _, img := range imgs {
		r := image.Rect(x, gap, x+img.Bounds().Dx(), gap+img.Bounds().Dy())
		draw.Draw(sheet, r, img, img.Bounds().Min, draw.Src)
		x += img.Bounds().Dx() + gap
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, sheet); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, compactPNG(t, buf.Bytes()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// quantize maps img to a palette of at most n colours chosen by median
// cut over its colour histogram, each pixel to its nearest palette colour
// (no dithering, which would only add noise to flat areas).
func quantize(img image.Image, n int) *image.Paletted {
	type entry struct {
		c     [3]int
		count int
	}
	bounds := img.Bounds()
	hist := map[[3]int]int{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			hist[[3]int{int(r >> 8), int(g >> 8), int(b >> 8)}]++
		}
	}
	all := make([]entry, 0, len(hist))
	for c, k := range hist {
		all = append(all, entry{c, k})
	}
	// spread returns the channel with the widest range in box, and the range.
	spread := func(box []entry) (int, int) {
		best, width := 0, -1
		for ch := 0; ch < 3; ch++ {
			lo, hi := 255, 0
			for _, e := range box {
				lo, hi = min(lo, e.c[ch]), max(hi, e.c[ch])
			}
			if hi-lo > width {
				best, width = ch, hi-lo
			}
		}
		return best, width
	}
	boxes := [][]entry{all}
	for len(boxes) < n {
		// Split the box with the most pixels that can still be split.
		pick, pickCount := -1, 0
		for i, box := range boxes {
			if _, w := spread(box); w == 0 {
				continue
			}
			count := 0
			for _, e := range box {
				count += e.count
			}
			if count > pickCount {
				pick, pickCount = i, count
			}
		}
		if pick < 0 {
			break
		}
		box := boxes[pick]
		ch, _ := spread(box)
		slices.SortFunc(box, func(a, b entry) int { return cmp.Compare(a.c[ch], b.c[ch]) })
		half, cut := 0, 1
		for i, e := range box {
			half += e.count
			if half*2 >= pickCount {
				cut = min(max(i, 1), len(box)-1)
				break
			}
		}
		boxes[pick] = box[:cut]
		boxes = append(boxes, box[cut:])
	}
	pal := make(color.Palette, len(boxes))
	for i, box := range boxes {
		var sum [3]int
		count := 0
		for _, e := range box {
			for ch := range sum {
				sum[ch] += e.c[ch] * e.count
			}
			count += e.count
		}
		pal[i] = color.RGBA{uint8(sum[0] / count), uint8(sum[1] / count), uint8(sum[2] / count), 0xff}
	}
	index := make(map[[3]int]uint8, len(hist))
	for c := range hist {
		index[c] = uint8(pal.Index(color.RGBA{uint8(c[0]), uint8(c[1]), uint8(c[2]), 0xff}))
	}
	p := image.NewPaletted(bounds, pal)
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			p.Pix[(y-bounds.Min.Y)*p.Stride+(x-bounds.Min.X)] = index[[3]int{int(r >> 8), int(g >> 8), int(b >> 8)}]
		}
	}
	return p
}
