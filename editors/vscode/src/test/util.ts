// Helpers of the extension-host tests: named steps recorded in the JSON file named by
// KENETIC_TEST_RESULT, polling, and document edits.

import * as fs from 'fs';
import * as vscode from 'vscode';

export interface Step {
    name: string;
    ok: boolean;
    ms: number;
    detail?: string;
}

export const steps: Step[] = [];
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function step<T>(name: string, body: () => Promise<T>): Promise<T | undefined> {
    const t0 = Date.now();
    try {
        const value = await body();
        steps.push({ name, ok: true, ms: Date.now() - t0, detail: value === undefined ? undefined : short(value) });
        return value;
    } catch (err) {
        steps.push({ name, ok: false, ms: Date.now() - t0, detail: err instanceof Error ? err.message : String(err) });
        return undefined;
    } finally {
        save();
    }
}

function short(value: unknown): string {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return text && text.length > 600 ? `${text.slice(0, 600)}...` : text;
}

export function save(): void {
    const out = process.env.KENETIC_TEST_RESULT;
    if (out) {
        fs.writeFileSync(out, JSON.stringify({ steps }, null, 2));
    }
}

export function check(cond: unknown, message: string): asserts cond {
    if (!cond) {
        throw new Error(message);
    }
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 15000, every = 200): Promise<T> {
    const deadline = Date.now() + ms;
    let last: unknown;
    while (Date.now() < deadline) {
        try {
            const value = await probe();
            if (value) {
                return value;
            }
        } catch (err) {
            last = err;
        }
        await sleep(every);
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

export async function replace(editor: vscode.TextEditor, from: string, to: string): Promise<void> {
    const text = editor.document.getText();
    const at = text.indexOf(from);
    check(at >= 0, `${from} not in the document`);
    const range = new vscode.Range(editor.document.positionAt(at), editor.document.positionAt(at + from.length));
    check(await editor.edit((b) => b.replace(range, to)), `edit ${from} -> ${to} refused`);
}

export function rangeOf(doc: vscode.TextDocument, text: string): vscode.Range {
    const at = doc.getText().indexOf(text);
    check(at >= 0, `${text} not in the document`);
    return new vscode.Range(doc.positionAt(at), doc.positionAt(at + text.length));
}

/** While a palette command shows a quick pick, accept its first item. */
export async function acceptQuickPick<T>(running: Thenable<T>): Promise<T> {
    await sleep(800);
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    return running;
}

