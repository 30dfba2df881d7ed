/** What one model costs, in US dollars per million tokens. */
export interface ModelPrice {
  promptUsdPerMillion: number;
  completionUsdPerMillion: number;
}

export type PriceTable = Record<string, ModelPrice>;

/**
 * Default table: the test model the harness builds (`soma-tiny`, free to run, priced so cost
 * arithmetic is exercised). Deployments set their own with SOMA_MODEL_PRICES.
 */
export const DEFAULT_PRICES: PriceTable = {
  'soma-tiny': { promptUsdPerMillion: 0.1, completionUsdPerMillion: 0.4 },
};

/** Cost of one answer; rounded to 10 decimals like the `numeric(20,10)` columns. */
export function costUsd(price: ModelPrice, promptTokens: number, completionTokens: number): number {
  const raw =
    (promptTokens * price.promptUsdPerMillion + completionTokens * price.completionUsdPerMillion) / 1e6;
  return Math.round(raw * 1e10) / 1e10;
}
