// Seconds as GHC's `printf "%0.3f"` prints them (the totals report): the shortest round-trip
// digits of the double rounded half to even only when the dropped part is exactly one half,
// as lib/hsfmt.c does on the server.

/** The shortest digits d1..dn and e with |v| = 0.d1..dn * 10^e (v finite). */
function floatDigits(v: number): { ds: number[]; e: number } {
  if (v === 0) return { ds: [0], e: 0 };
  const [mant, exp] = Math.abs(v).toExponential().split('e');
  const ds = mant!.replace('.', '').split('').map(Number);
  return { ds, e: Number(exp) + 1 };
}

/** GHC's roundTo 10 n on zeros(z) ++ ds: n digits and the carry out of the first. */
function roundTo(ds: number[], z: number, n: number): { out: number[]; carry: number } {
  const total = z + ds.length;
  const out: number[] = [];
  for (let j = 0; j < n; j++) out.push(j >= z && j < total ? ds[j - z]! : 0);
  if (n >= total) return { out, carry: 0 };
  const x = n >= z ? ds[n - z]! : 0;
  const prevEven = n === 0 || out[n - 1]! % 2 === 0;
  let restZero = true;
  for (let j = Math.max(n + 1, z); j < total; j++) restZero = restZero && ds[j - z] === 0;
  let carry = x === 5 && prevEven && restZero ? 0 : x >= 5 ? 1 : 0;
  for (let j = n - 1; j >= 0 && carry; j--) {
    out[j]! += 1;
    carry = out[j] === 10 ? 1 : 0;
    if (carry) out[j] = 0;
  }
  return { out, carry };
}

/** `printf "%0.<decimals>f" v` as GHC 9.0's base prints it, for finite v >= 0. */
export function hsFixed(v: number, decimals: number): string {
  const { ds, e } = floatDigits(v);
  const z = e < 0 ? -e : 0;
  const n = decimals + (e > 0 ? e : 0);
  const { out, carry } = roundTo(ds, z, n);
  const intLen = e > 0 ? e : 0;
  let s = carry ? '1' : '';
  s += out.slice(0, intLen).join('');
  if (!s) s = '0';
  const frac = out.slice(intLen, intLen + decimals).join('');
  return decimals > 0 ? `${s}.${frac}` : s;
}
