import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { AppError } from './errors.ts';

/**
 * Encryption at rest for secrets Callwatch must read back (webhook signing secrets): the
 * HMAC needs the plaintext, so a hash will not do. AES-256-GCM with a key derived from
 * APP_SECRET by HKDF-SHA256 under its own label — APP_SECRET also signs stream tokens, and
 * neither use may ever see the other's key. A sealed value reads
 * `v1:<key id>:<iv>:<tag>:<ciphertext>` (base64url parts, a fresh 12-byte IV each time);
 * the key id, derived under another label, says which APP_SECRET sealed it, so a rotation
 * can tell which rows still need re-sealing and a wrong key is named as such instead of
 * failing as a bad tag. `context` (a business id) is bound in as associated data: a sealed
 * value copied to another row does not open there.
 */
export class SecretBox {
  readonly #current: SealingKey;
  readonly #keys: Map<string, SealingKey>;

  /** `secret` seals and opens; `previous` (APP_SECRET_PREVIOUS) only opens, during a rotation. */
  constructor(secret: string, previous?: string) {
    this.#current = sealingKey(secret);
    this.#keys = new Map([[this.#current.id, this.#current]]);
    if (previous !== undefined) {
      const old = sealingKey(previous);
      if (!this.#keys.has(old.id)) this.#keys.set(old.id, old);
    }
  }

  /** The id of the key new values are sealed with. */
  get keyId(): string {
    return this.#current.id;
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [version, this.#current.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join(':');
  }

  /**
   * The plaintext of a sealed value. Throws AppError('CONFIG_INVALID') when no configured
   * key sealed it (APP_SECRET changed without APP_SECRET_PREVIOUS), and AppError('INTERNAL')
   * when the value does not authenticate (altered, or moved to another row): never garbage.
   */
  open(sealed: string, context: string): string {
    const parts = parseSealed(sealed);
    if (!parts) throw new AppError('INTERNAL', 'not a sealed secret (expected v1:<key id>:<iv>:<tag>:<ciphertext>)');
    const key = this.#keys.get(parts.keyId);
    if (!key) {
      throw new AppError('CONFIG_INVALID', `a stored secret was encrypted with an APP_SECRET that is not configured (key id ${parts.keyId}; APP_SECRET has ${this.#current.id}): set APP_SECRET to the key it was encrypted with, or keep that key as APP_SECRET_PREVIOUS while rotating`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, parts.iv);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(parts.tag);
      return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new AppError('INTERNAL', `a stored secret failed authentication (key id ${parts.keyId}): it was altered or belongs to another row`, { cause: error });
    }
  }

  /** Whether `value` is sealed with the current key (nothing to re-seal). */
  isCurrent(value: string): boolean {
    return parseSealed(value)?.keyId === this.#current.id;
  }
}

/** Whether `value` has the sealed form (of any key); stored values without it are legacy plaintext. */
export function isSealed(value: string): boolean {
  return parseSealed(value) !== null;
}

const version = 'v1';
const encryptionLabel = 'callwatch secret-box v1 aes-256-gcm key';
const keyIdLabel = 'callwatch secret-box v1 key id';

interface SealingKey {
  id: string;
  key: Buffer;
}

function sealingKey(secret: string): SealingKey {
  const derive = (label: string, bytes: number) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), label, bytes));
  return { key: derive(encryptionLabel, 32), id: derive(keyIdLabel, 6).toString('base64url') };
}

function parseSealed(value: string): { keyId: string; iv: Buffer; tag: Buffer; ciphertext: Buffer } | null {
  const parts = value.split(':');
  if (parts.length !== 5 || parts[0] !== version || !parts.every((part) => /^[\w-]*$/.test(part))) return null;
  const [, keyId = '', iv = '', tag = '', ciphertext = ''] = parts;
  const fields = { keyId, iv: Buffer.from(iv, 'base64url'), tag: Buffer.from(tag, 'base64url'), ciphertext: Buffer.from(ciphertext, 'base64url') };
  return fields.iv.length === 12 && fields.tag.length === 16 && keyId.length === 8 ? fields : null;
}

const boxes = new WeakMap<object, SecretBox>();

/** The SecretBox of a configuration (APP_SECRET, APP_SECRET_PREVIOUS), derived once per config. */
export function secretBoxOf(config: { appSecret: string; appSecretPrevious: string | undefined }): SecretBox {
  let box = boxes.get(config);
  if (!box) {
    box = new SecretBox(config.appSecret, config.appSecretPrevious);
    boxes.set(config, box);
  }
  return box;
}
