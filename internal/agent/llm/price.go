package llm

// Price is a model's price in US dollars per million tokens.
type Price struct {
	InputPerMTok  float64 `json:"inputPerMTok" yaml:"inputPerMTok"`
	OutputPerMTok float64 `json:"outputPerMTok" yaml:"outputPerMTok"`
}

// LookupPrice finds the price of the model a server reported, else of the
// one requested: by its exact name, else by its name without a trailing
// date ("-20250929" or "-2025-09-29"), since dated snapshots share the
// price of their alias.
func LookupPrice(prices map[string]Price, reported, requested string) (Price, bool) {
	for _, model := range [...]string{reported, requested} {
		if p, ok := prices[model]; ok {
			return p, true
		}
		if base, ok := StripDate(model); ok {
			if p, ok := prices[base]; ok {
				return p, true
			}
		}
	}
	return Price{}, false
}

// StripDate removes a trailing "-YYYYMMDD" or "-YYYY-MM-DD" from a model
// name.
func StripDate(model string) (string, bool) {
	digits := func(s string) bool {
		for _, r := range s {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	if n := len(model); n > 9 && model[n-9] == '-' && digits(model[n-8:]) {
		return model[:n-9], true
	}
	if n := len(model); n > 11 && model[n-11] == '-' && model[n-6] == '-' && model[n-3] == '-' &&
		digits(model[n-10:n-6]) && digits(model[n-5:n-3]) && digits(model[n-2:]) {
		return model[:n-11], true
	}
	return "", false
}
