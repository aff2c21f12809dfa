// Next edits people can take: after an edit (debounced), ask kenetic/nextEdits and mark the best
// site with a gutter arrow and an inline preview (old text struck through, new text after it); a
// site in another file shows as a hint at the cursor with the file name. Tab jumps there, Tab
// again accepts (then the next site is marked), Escape dismisses; both are sent to the server as
// outcomes. The keybindings are bound to the context key kenetic.nextEditVisible only.

import * as path from 'path';
import * as vscode from 'vscode';
import { State } from 'vscode-languageclient/node';
import { appliedMessage, callServer, describeError } from './call';
import type { Kenetic, MarkedEdit } from './kenetic';

export interface NextEdit {
    uri: string;
    range: { start: { line: number; character: number }; end: { line: number; character: number } };
    newText: string;
    skillId?: string;
    suggestionId?: string;
    score?: number;
}

/** The languages kenetic has grammars for (memory/skills/syntax.py), as VS Code language ids. */
export const LANGUAGES = ['python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'go', 'rust', 'java', 'c', 'cpp', 'cuda-cpp', 'lua', 'ruby'];

const CONTEXT_KEY = 'kenetic.nextEditVisible';

interface Mark extends MarkedEdit {
    edit: NextEdit;
    target: vscode.Uri;
    range: vscode.Range;
}

function flat(text: string): string {
    const one = text.replace(/\r?\n/g, ' ⏎ ');
    return one.length > 120 ? `${one.slice(0, 117)}...` : one;
}

/** The preview: the site's line as the edit leaves it (a deletion's new text alone is empty and
 * a rename's a word), or the new text where the edit spans lines or the file is not open. */
function previewOf(doc: vscode.TextDocument | undefined, range: vscode.Range, newText: string): string {
    if (!doc || range.start.line !== range.end.line || newText.includes('\n')) {
        return flat(newText) || '(delete)';
    }
    const line = doc.lineAt(range.start.line).text;
    const after = (line.slice(0, range.start.character) + newText + line.slice(range.end.character)).trim();
    return flat(after) || '(delete the line)';
}

export class NextEdits implements vscode.Disposable {
    private readonly disposables: vscode.Disposable[] = [];
    private readonly gutter: vscode.TextEditorDecorationType;
    private readonly struck = vscode.window.createTextEditorDecorationType({
        textDecoration: 'line-through',
        backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
    });
    private readonly preview = vscode.window.createTextEditorDecorationType({
        after: { color: new vscode.ThemeColor('editorGhostText.foreground'), fontStyle: 'italic', margin: '0 0 0 1em' },
    });
    private readonly hint = vscode.window.createTextEditorDecorationType({
        after: { color: new vscode.ThemeColor('editorGhostText.foreground'), fontStyle: 'italic', margin: '0 0 0 2em' },
    });
    private mark: Mark | undefined;
    private timer: NodeJS.Timeout | undefined;
    private retry: NodeJS.Timeout | undefined;
    private applying = false;
    private changedAt = 0;
    private asked = 0;
    /** suggestion ids and sites dismissed in this session: never marked again */
    private readonly dismissed = new Set<string>();

    constructor(
        private readonly kenetic: Kenetic,
        context: vscode.ExtensionContext,
    ) {
        this.gutter = vscode.window.createTextEditorDecorationType({
            gutterIconPath: vscode.Uri.file(context.asAbsolutePath(path.join('media', 'next-edit.svg'))),
            gutterIconSize: 'contain',
            overviewRulerColor: new vscode.ThemeColor('editorInfo.foreground'),
            overviewRulerLane: vscode.OverviewRulerLane.Right,
        });
        this.disposables.push(
            this.gutter,
            this.struck,
            this.preview,
            this.hint,
            vscode.workspace.onDidChangeTextDocument((e) => this.changed(e)),
            vscode.window.onDidChangeActiveTextEditor(() => this.render()),
            vscode.window.onDidChangeVisibleTextEditors(() => this.render()),
            vscode.commands.registerCommand('kenetic.client.acceptNextEdit', () => this.accept()),
            vscode.commands.registerCommand('kenetic.client.dismissNextEdit', () => this.dismiss()),
            vscode.commands.registerCommand('kenetic.client.acceptAllInFile', () => this.acceptAll('file')),
            vscode.commands.registerCommand('kenetic.client.acceptAll', () => this.acceptAll('workspace')),
            vscode.commands.registerCommand('kenetic.client.refreshNextEdit', () => this.ask()),
        );
    }

    current(): MarkedEdit | undefined {
        if (!this.mark) {
            return undefined;
        }
        const { edit: _edit, target: _target, range: _range, ...shown } = this.mark;
        return shown;
    }

    /** Forget the mark (suggestions toggled off, server restarted). */
    clear(): void {
        this.setMark(undefined);
    }

    private delayMs(): number {
        return vscode.workspace.getConfiguration('kenetic').get<number>('editor.nextEditDelayMs', 150);
    }

    private changed(e: vscode.TextDocumentChangeEvent): void {
        if (this.applying || !e.contentChanges.length || !LANGUAGES.includes(e.document.languageId) || e.document.uri.scheme !== 'file') {
            return;
        }
        if (vscode.window.activeTextEditor?.document !== e.document) {
            return;
        }
        this.changedAt = Date.now();
        // the marked range may have moved or gone: ask again once the typing pauses
        this.setMark(undefined);
        if (!vscode.workspace.getConfiguration('kenetic').get<boolean>('editor.nextEdits', true)) {
            return;
        }
        this.schedule(this.delayMs());
        // the server closes the edit burst (an episode) after its capture idle gap and then mines
        // skills from it (a second or two for a new skill): ask again then, until something shows
        const gap = vscode.workspace.getConfiguration('kenetic').get<number>('capture.idleGapMs', 1500);
        this.retries([gap + 150, gap + 400, gap + 700, gap + 1100, gap + 2000, gap + 4000], this.changedAt);
    }

    private retries(after: number[], changedAt: number): void {
        clearTimeout(this.retry);
        const [first, ...rest] = after;
        if (first === undefined) {
            return;
        }
        const wait = Math.max(0, changedAt + first - Date.now());
        this.retry = setTimeout(() => {
            if (this.mark || changedAt !== this.changedAt) {
                return;
            }
            void this.ask().then((m) => !m && this.retries(rest, changedAt));
        }, wait);
    }

    private schedule(ms: number): void {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.ask(), ms);
    }

    /** Ask kenetic/nextEdits at `at` (default: the cursor) and mark the first site not dismissed. */
    async ask(at?: { uri: vscode.Uri; position: vscode.Position }): Promise<MarkedEdit | undefined> {
        const editor = vscode.window.activeTextEditor;
        const client = this.kenetic.client;
        if (!client || client.state !== State.Running || (!editor && !at)) {
            return undefined;
        }
        const uri = at?.uri ?? editor!.document.uri;
        if (uri.scheme !== 'file') {
            return undefined;
        }
        const position = at?.position ?? editor!.selection.active;
        const ticket = ++this.asked;
        const changedAt = this.changedAt;
        let edits: NextEdit[];
        try {
            const c2p = client.code2ProtocolConverter;
            const answer = await client.sendRequest<{ edits?: NextEdit[] }>('kenetic/nextEdits', {
                textDocument: { uri: c2p.asUri(uri) },
                position: c2p.asPosition(position),
            });
            edits = answer?.edits ?? [];
        } catch (err) {
            this.kenetic.output.warn(`kenetic/nextEdits: ${describeError(err)}`);
            return undefined;
        }
        if (ticket !== this.asked || changedAt !== this.changedAt) {
            return undefined; // a newer edit or question supersedes this answer
        }
        const p2c = client.protocol2CodeConverter;
        for (const edit of edits) {
            const target = p2c.asUri(edit.uri);
            const range = p2c.asRange(edit.range);
            if (this.dismissed.has(this.key(edit, target, range))) {
                continue;
            }
            const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
            const oldText = doc ? doc.getText(range) : '';
            if (doc && oldText === edit.newText) {
                continue; // already done
            }
            this.setMark({
                edit,
                target,
                range,
                uri: target.toString(),
                line: range.start.line,
                newText: edit.newText,
                oldText,
                preview: previewOf(doc, range, edit.newText),
                skillId: edit.skillId,
                suggestionId: edit.suggestionId,
                otherFile: target.toString() !== uri.toString(),
                markedAt: Date.now(),
                changedAt,
            });
            return this.current();
        }
        this.setMark(undefined);
        return undefined;
    }

    private key(edit: NextEdit, target: vscode.Uri, range: vscode.Range): string {
        return edit.suggestionId ?? `${target.toString()}#${range.start.line}:${range.start.character}`;
    }

    private setMark(mark: Mark | undefined): void {
        this.mark = mark;
        void vscode.commands.executeCommand('setContext', CONTEXT_KEY, mark !== undefined);
        this.render();
    }

    private render(): void {
        const mark = this.mark;
        for (const editor of vscode.window.visibleTextEditors) {
            const here = mark && editor.document.uri.toString() === mark.target.toString();
            editor.setDecorations(this.gutter, here ? [new vscode.Range(mark.range.start, mark.range.start)] : []);
            editor.setDecorations(this.struck, here ? [{ range: mark.range, hoverMessage: this.hover(mark) }] : []);
            editor.setDecorations(
                this.preview,
                // at the line's end: the preview is the whole line as the edit leaves it
                here ? [{ range: editor.document.lineAt(mark.range.end.line).range.with({ start: editor.document.lineAt(mark.range.end.line).range.end }), renderOptions: { after: { contentText: `→ ${mark.preview}` } } }] : [],
            );
            const hintHere = mark && !here && editor === vscode.window.activeTextEditor;
            if (here) {
                const end = editor.document.lineAt(mark.range.end.line).range.end;
                editor.setDecorations(this.hint, [{ range: new vscode.Range(end, end), renderOptions: { after: { contentText: 'kenetic: Tab accept · Esc dismiss' } } }]);
            } else if (hintHere) {
                const line = editor.document.lineAt(editor.selection.active.line).range.end;
                const name = vscode.workspace.asRelativePath(mark.target);
                const text = `kenetic: next edit in ${name}:${mark.range.start.line + 1} → ${mark.preview}   (Tab: go there)`;
                editor.setDecorations(this.hint, [{ range: new vscode.Range(line, line), renderOptions: { after: { contentText: text } } }]);
            } else {
                editor.setDecorations(this.hint, []);
            }
        }
    }

    private hover(mark: Mark): vscode.MarkdownString {
        const args = encodeURIComponent(JSON.stringify([mark.skillId]));
        const md = new vscode.MarkdownString(
            `**kenetic next edit** → \`${mark.preview.replace(/`/g, "'")}\`\n\n` +
                `[Accept (Tab)](command:kenetic.client.acceptNextEdit) · [Dismiss (Esc)](command:kenetic.client.dismissNextEdit)` +
                (mark.skillId ? ` · [Why this?](command:kenetic.client.whyThis?${args})` : ''),
        );
        md.isTrusted = true;
        return md;
    }

    /** Tab: jump to the marked site; at it, accept. Returns what happened (for tests). */
    async accept(): Promise<'jumped' | 'accepted' | 'none'> {
        const mark = this.mark;
        if (!mark) {
            return 'none';
        }
        const editor = vscode.window.activeTextEditor;
        const there = editor && editor.document.uri.toString() === mark.target.toString() && editor.selection.active.line === mark.range.start.line;
        if (!there) {
            const shown = await vscode.window.showTextDocument(mark.target, { selection: new vscode.Range(mark.range.start, mark.range.start) });
            shown.revealRange(mark.range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
            this.render();
            return 'jumped';
        }
        const edit = new vscode.WorkspaceEdit();
        edit.replace(mark.target, mark.range, mark.edit.newText);
        this.applying = true;
        let ok = false;
        try {
            ok = await vscode.workspace.applyEdit(edit);
        } finally {
            this.applying = false;
        }
        this.setMark(undefined);
        if (!ok) {
            return 'none';
        }
        if (mark.suggestionId) {
            await callServer(this.kenetic, 'kenetic.recordOutcome', [{ suggestionId: mark.suggestionId, outcome: 'accepted' }], true);
        }
        this.changedAt = Date.now();
        await this.ask({ uri: mark.target, position: mark.range.start });
        return 'accepted';
    }

    /** Escape: dismiss the marked site (never marked again this session), mark the next one. */
    async dismiss(): Promise<boolean> {
        const mark = this.mark;
        if (!mark) {
            return false;
        }
        this.dismissed.add(this.key(mark.edit, mark.target, mark.range));
        this.setMark(undefined);
        if (mark.suggestionId) {
            await callServer(this.kenetic, 'kenetic.recordOutcome', [{ suggestionId: mark.suggestionId, outcome: 'rejected' }], true);
        }
        await this.ask();
        return true;
    }

    /** Apply the marked skill everywhere in the file (or the workspace) through kenetic.applySkill. */
    async acceptAll(scope: 'file' | 'workspace'): Promise<unknown> {
        const editor = vscode.window.activeTextEditor;
        const skillId = this.mark?.skillId;
        const target = this.mark?.target ?? editor?.document.uri;
        if (!skillId || !target) {
            void vscode.window.showInformationMessage('Kenetic: no next edit is marked: make an edit a skill explains first.');
            return undefined;
        }
        const client = await this.kenetic.ready();
        const uri = client ? client.code2ProtocolConverter.asUri(target) : target.toString();
        this.setMark(undefined);
        this.applying = true;
        let answer: unknown;
        try {
            answer = await callServer(this.kenetic, 'kenetic.applySkill', [{ id: skillId, uri, scope }]);
        } finally {
            this.applying = false;
        }
        if (answer === undefined) {
            return undefined;
        }
        const message = appliedMessage(answer);
        void vscode.window.showInformationMessage(message);
        return { ...(answer as object), message };
    }

    dispose(): void {
        clearTimeout(this.timer);
        clearTimeout(this.retry);
        for (const d of this.disposables) {
            d.dispose();
        }
    }
}
