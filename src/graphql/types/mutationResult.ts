/** Error-union options shared by every mutation: `<mutation>Result = <Payload> | errors…`. */
export function resultUnion(mutation: string, types: (new (...args: never[]) => Error)[]) {
  const name = `${mutation[0]!.toUpperCase()}${mutation.slice(1)}Result`;
  return { types, directResult: true as const, union: { name } };
}
