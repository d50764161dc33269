// safetensors files for tests: writing any header and data (lying lengths included), and reading
// a file's float32 tensors back by name.
import * as fs from 'fs';

/** A safetensors file: the 8-byte length (optionally a lying one), the header text, the data. */
export function safetensorsBuffer(header: string, data: Buffer, headerLength?: bigint): Buffer {
  const h = Buffer.from(header, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

/** A safetensors file of named float32 tensors, laid out in order. */
export function safetensorsOf(tensors: Record<string, { shape: number[]; values: number[] }>, meta?: object): Buffer {
  const header: Record<string, unknown> = meta ? { __metadata__: meta } : {};
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const data = Buffer.from(Float32Array.from(t.values).buffer);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + data.length] };
    offset += data.length;
    parts.push(data);
  }
  return safetensorsBuffer(JSON.stringify(header), Buffer.concat(parts));
}

/** The F32 tensors of a safetensors file, by name, with their shapes (other dtypes are left out). */
export function readFloatTensors(file: string): Map<string, { shape: number[]; values: Float32Array }> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__' || e.dtype !== 'F32') continue;
    const bytes = buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]);
    out.set(name, { shape: e.shape, values: new Float32Array(Uint8Array.from(bytes).buffer) });
  }
  return out;
}
