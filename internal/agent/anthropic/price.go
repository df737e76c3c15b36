package anthropic

import (
	"github.com/anthropics/anthropic-sdk-go"
)

// Price is a model's price in US dollars per million tokens.
type Price struct {
	InputPerMTok  float64 `json:"inputPerMTok" yaml:"inputPerMTok"`
	OutputPerMTok float64 `json:"outputPerMTok" yaml:"outputPerMTok"`
}

// Prompt-cache multipliers of the input price: writing the 5-minute cache
// costs 1.25 times the input price, reading it 0.1 times.
const (
	cacheWriteFactor = 1.25
	cacheReadFactor  = 0.1
)

// DefaultPrices returns a fresh copy of the built-in price list: Anthropic's
// published list prices for standard (non-batch, short-context) use, as a
// snapshot taken in March 2026. Prices change; Config.Prices overrides
// them, and a model missing from both costs 0. Dated snapshots of a model
// ("claude-haiku-4-5-20251001") share the price of its alias.
func DefaultPrices() map[string]Price {
	return map[string]Price{
		anthropic.ModelClaudeOpus4_6:   {InputPerMTok: 5, OutputPerMTok: 25},
		anthropic.ModelClaudeOpus4_5:   {InputPerMTok: 5, OutputPerMTok: 25},
		"claude-opus-4-1":              {InputPerMTok: 15, OutputPerMTok: 75},
		"claude-opus-4-0":              {InputPerMTok: 15, OutputPerMTok: 75},
		"claude-opus-4":                {InputPerMTok: 15, OutputPerMTok: 75},
		anthropic.ModelClaudeSonnet4_6: {InputPerMTok: 3, OutputPerMTok: 15},
		anthropic.ModelClaudeSonnet4_5: {InputPerMTok: 3, OutputPerMTok: 15},
		"claude-sonnet-4-0":            {InputPerMTok: 3, OutputPerMTok: 15},
		"claude-sonnet-4":              {InputPerMTok: 3, OutputPerMTok: 15},
		"claude-3-7-sonnet":            {InputPerMTok: 3, OutputPerMTok: 15},
		anthropic.ModelClaudeHaiku4_5:  {InputPerMTok: 1, OutputPerMTok: 5},
		"claude-3-5-haiku":             {InputPerMTok: 0.8, OutputPerMTok: 4},
		"claude-3-haiku":               {InputPerMTok: 0.25, OutputPerMTok: 1.25},
	}
}

// lookup finds the price of model: by its exact name, else by its name
// without a trailing date ("-20250929" or "-2025-09-29").
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

// cost prices msg by the model the server reported, else by the one
// requested; 0 when neither has a price.
func cost(prices map[string]Price, msg anthropic.Message, requested string) float64 {
	p, ok := lookup(prices, msg.Model)
	if !ok {
		if p, ok = lookup(prices, requested); !ok {
			return 0
		}
	}
	u := msg.Usage
	in := float64(u.InputTokens)*p.InputPerMTok +
		float64(u.CacheCreationInputTokens)*p.InputPerMTok*cacheWriteFactor +
		float64(u.CacheReadInputTokens)*p.InputPerMTok*cacheReadFactor
	return (in + float64(u.OutputTokens)*p.OutputPerMTok) / 1e6
}
