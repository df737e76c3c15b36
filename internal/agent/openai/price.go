package openai

import "github.com/coderclaw/coderclaw/internal/agent/llm"

// Price is a model's price in US dollars per million tokens.
type Price struct {
	InputPerMTok  float64 `json:"inputPerMTok" yaml:"inputPerMTok"`
	OutputPerMTok float64 `json:"outputPerMTok" yaml:"outputPerMTok"`
}

// DefaultPrices returns a fresh copy of the built-in price list: OpenAI's
// published list prices for standard (non-batch) use, as a snapshot taken
// in March 2026. Prices change; Config.Prices overrides them, and a model
// missing from both (every local model, unless configured) costs 0. Dated
// snapshots ("gpt-4o-2024-08-06") share the price of their alias. Cached
// input is priced as ordinary input, so the cost is an upper bound.
func DefaultPrices() map[string]Price {
	return map[string]Price{
		"gpt-5.4":      {InputPerMTok: 2.5, OutputPerMTok: 15},
		"gpt-5.1":      {InputPerMTok: 1.25, OutputPerMTok: 10},
		"gpt-5":        {InputPerMTok: 1.25, OutputPerMTok: 10},
		"gpt-5-mini":   {InputPerMTok: 0.25, OutputPerMTok: 2},
		"gpt-5-nano":   {InputPerMTok: 0.05, OutputPerMTok: 0.4},
		"gpt-4.1":      {InputPerMTok: 2, OutputPerMTok: 8},
		"gpt-4.1-mini": {InputPerMTok: 0.4, OutputPerMTok: 1.6},
		"gpt-4.1-nano": {InputPerMTok: 0.1, OutputPerMTok: 0.4},
		"gpt-4o":       {InputPerMTok: 2.5, OutputPerMTok: 10},
		"gpt-4o-mini":  {InputPerMTok: 0.15, OutputPerMTok: 0.6},
		"o3":           {InputPerMTok: 2, OutputPerMTok: 8},
		"o4-mini":      {InputPerMTok: 1.1, OutputPerMTok: 4.4},
	}
}

// lookup finds the price of model: by its exact name, else by its name
// without a trailing date ("-2024-08-06" or "-20240806").
func lookup(prices map[string]Price, model string) (Price, bool) {
	if p, ok := prices[model]; ok {
		return p, true
	}
	if base, ok := stripDate(model); ok {
		p, ok := prices[base]
		return p, ok
	}
	return Price{}, false
}

// stripDate removes a trailing "-YYYYMMDD" or "-YYYY-MM-DD".
func stripDate(model string) (string, bool) {
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

// cost prices resp by the model the server reported, else by the one
// requested; 0 when neither has a price.
func cost(prices map[string]Price, resp llm.Response, requested string) float64 {
	p, ok := lookup(prices, resp.Model)
	if !ok {
		if p, ok = lookup(prices, requested); !ok {
			return 0
		}
	}
	return (float64(resp.Usage.InputTokens)*p.InputPerMTok + float64(resp.Usage.OutputTokens)*p.OutputPerMTok) / 1e6
}
