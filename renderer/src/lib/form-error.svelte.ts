/**
 * One form's own error (a tester's trial: a form's error was said ~400 px away, at the top of the
 * page, no field marked, fields by their raw names). Each form keeps one:
 *
 *   const problem = new FormError();
 *   async function save(e: SubmitEvent) { e.preventDefault(); if (await problem.run(() => api.x(…))) … }
 *   <form onsubmit={save} oninput={problem.clear}> <input {...problem.mark('dir')} /> </form>
 *   <ErrorNote form={problem} testid="…" />
 *
 * ErrorNote then says it right under the form, in words (errors.ts; the raw answer behind
 * "details"), and brings it into view; the field the node names is marked (aria-invalid, styled in
 * app.css, with aria-errormessage pointing at the note); the error goes once the form changes.
 */
import { explainError, invalidField, type Explained } from './errors.ts';
import { AdminError } from '../../../shared/contract/client.ts';

let made = 0;

export interface FormErrorOptions {
  /**
   * A refusal that is about one field without being an input error, by its code: the field to mark
   * (a wrong current passphrase: `{ wrong_passphrase: 'current' }`).
   */
  codes?: Readonly<Record<string, string>>;
  /** Words this form knows better than the general ones (null: the general ones). */
  words?: (error: unknown) => Explained | null;
}

export class FormError {
  /** What the last try was refused with (null: nothing to say). */
  error = $state<unknown>(null);
  /** Its words, when the form gave its own (`set`, or the `words` option). */
  #words = $state<Explained | null>(null);
  /** The id of the form's error note: the marked field names it (aria-errormessage). */
  readonly id = `form-error-${++made}`;
  readonly #options: FormErrorOptions;

  constructor(options: FormErrorOptions = {}) {
    this.#options = options;
  }

  /** The field the error is about, by the node's name of it (`dir`, `user_id`…), or null. */
  readonly field = $derived.by(() => {
    const error = this.error;
    if (error instanceof AdminError && this.#options.codes?.[error.code]) return this.#options.codes[error.code]!;
    return invalidField(error);
  });

  /** What the form's note says: its own words, else the general ones (errors.ts). */
  readonly shown = $derived.by((): Explained | null => {
    if (!this.error) return null;
    return this.#words ?? this.#options.words?.(this.error) ?? explainError(this.error);
  });

  /** The attributes of a field named `names` (any of them): marked while the error is about it. */
  mark(...names: string[]): { 'aria-invalid'?: 'true'; 'aria-errormessage'?: string } {
    return this.field !== null && names.includes(this.field) ? { 'aria-invalid': 'true', 'aria-errormessage': this.id } : {};
  }

  /** The form changed (or is sent again): what was said of the old input goes. */
  clear = (): void => {
    this.error = null;
    this.#words = null;
  };

  /** Says `error` at the form, in `words` when given. */
  set(error: unknown, words: Explained | null = null): void {
    this.#words = words;
    this.error = error;
  }

  /**
   * Runs the form's action: true when it was done; when refused, the refusal is said at the form
   * (in `words` when they give any).
   */
  async run(action: () => Promise<unknown>, words?: (error: unknown) => Explained | null): Promise<boolean> {
    this.clear();
    try {
      await action();
      return true;
    } catch (e) {
      this.set(e, words?.(e) ?? null);
      return false;
    }
  }
}
