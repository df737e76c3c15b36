package openai

import "github.com/coderclaw/coderclaw/internal/agent/llm"

// Price is a model's price in US dollars per million tokens.
type Price = llm.Price

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

// cost prices resp by the model the server reported, else by the one
// requested; 0 when neither has a price.
func cost(prices map[string]Price, resp llm.Response, requested string) float64 {
	p, ok := llm.LookupPrice(prices, resp.Model, requested)
	if !ok {
		return 0
	}
	return (float64(resp.Usage.InputTokens)*p.InputPerMTok + float64(resp.Usage.OutputTokens)*p.OutputPerMTok) / 1e6
}
