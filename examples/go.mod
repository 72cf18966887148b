module github.com/media-gateway/discovery/examples

go 1.26.0

replace github.com/media-gateway/discovery => ../

require (
	github.com/alicebob/miniredis/v2 v2.40.0
	github.com/media-gateway/discovery v0.0.0-00010101000000-000000000000
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/redis/rueidis v1.0.79 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	github.com/yuin/gopher-lua v1.1.1 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)
