// A small well-formedness check for the SVG and HTML the CLI writes (no XML dependency needed):
// balanced tags, quoted attributes, no stray '<' or '&'.

const VOID_HTML = new Set(['meta', 'br', 'hr', 'img', 'link', 'input', 'col', 'area', 'base', 'wbr', 'source']);

/** Throws describing the first problem; returns the element names seen, in order. */
export function checkWellFormed(text: string, options: { html?: boolean } = {}): string[] {
  const seen: string[] = [];
  const stack: string[] = [];
  let i = 0;
  const body = options.html ? text.replace(/^<!DOCTYPE html>\s*/i, '') : text.replace(/^<\?xml[^>]*\?>\s*/, '');
  const rawText = (chunk: string, at: number) => {
    const amp = /&(?!(amp|lt|gt|quot|#39|#\d+|#x[0-9a-f]+);)/i.exec(chunk);
    if (amp) throw new Error(`bare '&' at ${at + amp.index}: ${chunk.slice(amp.index, amp.index + 20)}`);
    if (chunk.includes('>') && !options.html) throw new Error(`bare '>' in text at ${at}`);
  };
  while (i < body.length) {
    const lt = body.indexOf('<', i);
    const textEnd = lt === -1 ? body.length : lt;
    const inStyle = stack[stack.length - 1] === 'style';
    if (!inStyle) rawText(body.slice(i, textEnd), i);
    if (lt === -1) break;
    const gt = body.indexOf('>', lt);
    if (gt === -1) throw new Error(`unclosed tag at ${lt}`);
    const tag = body.slice(lt + 1, gt);
    if (inStyle && tag !== '/style') {
      i = gt + 1;
      continue;
    }
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open ?? 'nothing'}> at ${lt}`);
    } else {
      const m = /^([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)$/.exec(tag);
      if (!m) throw new Error(`malformed tag <${tag.slice(0, 60)}> at ${lt}`);
      seen.push(m[1]);
      const selfClosing = m[3] === '/' || (options.html === true && VOID_HTML.has(m[1].toLowerCase()));
      if (!selfClosing) stack.push(m[1]);
    }
    i = gt + 1;
  }
  if (stack.length) throw new Error(`unclosed elements: ${stack.join(' > ')}`);
  return seen;
}
