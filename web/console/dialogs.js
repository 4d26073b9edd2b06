// Modal dialogs (native <dialog>): a form whose submit may fail inline, a confirmation, and the
// one-time display of a new key's text.
import { errorBox, h } from './dom.js';

/** Opens a modal with `body`; resolves when it closes, removing it from the page. */
function modal(dialog) {
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue);
    });
  });
}

/**
 * A form in a dialog. `submit(form)` does the work: what it returns closes the dialog and is
 * resolved; what it throws is shown in the dialog, which stays open. Cancel resolves null.
 */
export function formDialog({ id, title, intro, fields, submitLabel, danger }, submit) {
  const problem = h('div', { class: 'dialog-error' });
  const submitButton = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', id: `${id}-submit` }, submitLabel);
  const form = h(
    'form',
    { method: 'dialog', novalidate: true },
    h('h2', null, title),
    intro ? h('p', { class: 'hint' }, intro) : null,
    fields,
    problem,
    h(
      'div',
      { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'ghost', value: 'cancel', onclick: () => dialog.close('cancel') }, 'Cancel'),
      submitButton,
    ),
  );
  const dialog = h('dialog', { id, 'aria-label': title }, form);
  let result = null;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.replaceChildren();
    submitButton.disabled = true;
    try {
      result = await submit(form);
      dialog.close('done');
    } catch (err) {
      problem.replaceChildren(errorBox(err));
      const field = err?.field && form.elements.namedItem(err.field);
      if (field instanceof HTMLElement) field.focus();
    } finally {
      submitButton.disabled = false;
    }
  });
  return modal(dialog).then(() => result);
}

/** "Are you sure?": resolves true only for the confirming button. */
export function confirmDialog({ id, title, message, confirmLabel }) {
  return formDialog({ id, title, intro: message, fields: null, submitLabel: confirmLabel, danger: true }, async () => true).then((r) => r === true);
}

/** The text of a new key, shown this once, with a copy button. Its node is gone once closed. */
export function secretDialog(key, what) {
  const input = h('input', { id: 'secret-value', class: 'secret', readonly: true, value: key, spellcheck: 'false', 'aria-label': 'The new API key' });
  const note = h('p', { class: 'hint', role: 'status', id: 'copy-status' });
  const copy = h('button', { type: 'button', id: 'copy-secret', class: 'primary' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(key);
      copy.textContent = 'Copied';
      note.textContent = 'The key is on the clipboard.';
    } catch {
      // No clipboard permission: select it for Ctrl+C instead.
      input.select();
      note.textContent = 'Selected: press Ctrl+C (⌘C) to copy it.';
    }
  });
  const dialog = h(
    'dialog',
    { id: 'secret-dialog', 'aria-label': 'New API key' },
    h(
      'form',
      { method: 'dialog' },
      h('h2', null, 'New API key'),
      h('p', null, what),
      h('div', { class: 'row' }, input, copy),
      note,
      h(
        'p',
        { class: 'warning', role: 'alert' },
        h('strong', null, 'This is the only time this key is shown. '),
        'Longshot keeps only its hash: store it now, or create another key later.',
      ),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', class: 'primary', id: 'secret-done', value: 'done' }, 'I have stored it')),
    ),
  );
  // Escape closes it too; either way the text leaves the page with the dialog.
  return modal(dialog);
}
