/** Whether a string is well-formed Unicode (no lone surrogate, as `"\ud800"` in JSON), so that
 * its UTF-8 bytes hold it exactly: encoded, a lone surrogate becomes U+FFFD. */
export function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed(); // Node 20's, not in the ES2023 lib
}
