/**
 * A stage's output name derived from its input name, remembered per input name: stages derive
 * one for every sample, and a fresh string each time (a concatenation, a regex replace) costs
 * its building and then its hashing again in every later Map lookup of the series.
 */
export function derivedNames(derive: (name: string) => string): (name: string) => string {
  const names = new Map<string, string>();
  return (name) => {
    let out = names.get(name);
    if (out === undefined) names.set(name, (out = derive(name)));
    return out;
  };
}
