/** What one fuzz case ended in (shared by the worker's pipeline side and the Node test). */
export type Outcome = { kind: 'image'; width: number; height: number } | { kind: 'refused'; status: number; code: string } | { kind: 'crash'; error: string };
