//go:build !unix

package bench

func peakRSSMiB() float64 { return 0 }
