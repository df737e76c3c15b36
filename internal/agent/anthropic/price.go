package anthropic

import (
	"github.com/anthropics/anthropic-sdk-go"

	"github.com/coderclaw/coderclaw/internal/agent/llm"
)

// Price is a model's price in US dollars per million tokens.
type Price = llm.Price

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

// cost prices msg by the model the server reported, else by the one
// requested; 0 when neither has a price.
func cost(prices map[string]Price, msg anthropic.Message, requested string) float64 {
	p, ok := llm.LookupPrice(prices, msg.Model, requested)
	if !ok {
		return 0
	}
	u := msg.Usage
	in := float64(u.InputTokens)*p.InputPerMTok +
		float64(u.CacheCreationInputTokens)*p.InputPerMTok*cacheWriteFactor +
		float64(u.CacheReadInputTokens)*p.InputPerMTok*cacheReadFactor
	return (in + float64(u.OutputTokens)*p.OutputPerMTok) / 1e6
}
