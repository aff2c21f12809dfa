// Palette commands. Each one asks the server (a kenetic/* request or a kenetic.* command) and
// shows the answer with VS Code's own widgets: quick picks, markdown previews, notifications.

import * as vscode from 'vscode';
import { ErrorCodes, LanguageClient, ResponseError } from 'vscode-languageclient/node';
import { appliedMessage, describeError } from './call';
import type { Kenetic } from './kenetic';
import type { NextEdit } from './nextEdit';

export interface SkillSummary {
    id: string;
    name: string;
    language?: string;
    before?: string;
    after?: string;
    support?: number;
}

/** kenetic.exportSkill's answer (docs/protocol.md#keneticexportskill). */
interface ExportAnswer {
    format: string;
    folder: string;
    written: string[];
    skill?: { id: string; name: string; ruleId: string; verdict: string; reasons?: string[]; rule: string | null };
}

const SCHEME = 'kenetic';

/** Read-only documents the commands show: kenetic:/skill/<id>.md, kenetic:/stats.md. */
class Pages implements vscode.TextDocumentContentProvider {
    private readonly pages = new Map<string, string>();
    private readonly changed = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changed.event;

    set(path: string, text: string): vscode.Uri {
        const uri = vscode.Uri.from({ scheme: SCHEME, path });
        this.pages.set(uri.toString(), text);
        this.changed.fire(uri);
        return uri;
    }

    provideTextDocumentContent(uri: vscode.Uri): string {
        return this.pages.get(uri.toString()) ?? '';
    }
}

function reason(err: unknown): unknown {
    return err instanceof ResponseError ? (err.data as { reason?: unknown } | undefined)?.reason : undefined;
}

function isMethodMissing(err: unknown): boolean {
    return err instanceof ResponseError && err.code === ErrorCodes.MethodNotFound;
}

function fence(text: string, language = ''): string {
    const ticks = text.includes('```') ? '````' : '```';
    return `${ticks}${language}\n${text}\n${ticks}`;
}

/** The markdown card of a skill: the server's own when it sends one, else its fields. */
export function skillCard(answer: unknown): string {
    if (typeof answer === 'string') {
        return answer;
    }
    const a = (answer ?? {}) as Record<string, unknown>;
    for (const key of ['markdown', 'card']) {
        if (typeof a[key] === 'string') {
            return a[key] as string;
        }
    }
    const skill = (typeof a.skill === 'object' && a.skill ? a.skill : a) as Record<string, unknown>;
    const lang = typeof skill.language === 'string' ? skill.language : '';
    const lines = [`# ${skill.name ?? skill.id ?? 'skill'}`, ''];
    const facts = ['language', 'support', 'specificity']
        .filter((k) => skill[k] !== undefined)
        .map((k) => `${k} **${skill[k]}**`);
    if (facts.length) {
        lines.push(facts.join(' · '), '');
    }
    if (typeof skill.before === 'string') {
        lines.push('## Before', '', fence(skill.before, lang), '');
    }
    if (typeof skill.after === 'string') {
        lines.push('## After', '', fence(skill.after, lang), '');
    }
    if (skill.outcomes && typeof skill.outcomes === 'object') {
        lines.push('## Outcomes', '');
        for (const [k, v] of Object.entries(skill.outcomes as Record<string, unknown>)) {
            lines.push(`- ${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
        }
        lines.push('');
    }
    const examples = Array.isArray(skill.examples) ? (skill.examples as Record<string, unknown>[]) : [];
    if (examples.length) {
        lines.push(`## Examples (${examples.length})`, '');
        for (const ex of examples.slice(0, 5)) {
            if (typeof ex === 'object' && ex && typeof ex.before === 'string' && typeof ex.after === 'string') {
                const where = typeof ex.uri === 'string' ? ` — ${vscode.workspace.asRelativePath(vscode.Uri.parse(ex.uri))}` : '';
                lines.push(`Episode ${ex.episodeId ?? '?'}${where}`, '', fence(`${ex.before.trimEnd()}\n→\n${ex.after.trimEnd()}`, lang), '');
            }
        }
    }
    lines.push(`<sub>id \`${skill.id ?? '?'}\`${skill.store ? ` · store ${skill.store}` : ''}</sub>`);
    return lines.join('\n');
}

export function registerCommands(context: vscode.ExtensionContext, kenetic: Kenetic): void {
    const pages = new Pages();
    context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(SCHEME, pages));

    async function request<R>(method: string, params: unknown, token?: vscode.CancellationToken): Promise<R | undefined> {
        const client = await kenetic.ready();
        if (!client) {
            return undefined;
        }
        try {
            // never pass an undefined token: jsonrpc would send the params as a positional array
            return await (token ? client.sendRequest<R>(method, params, token) : client.sendRequest<R>(method, params));
        } catch (err) {
            if (isMethodMissing(err)) {
                void vscode.window.showWarningMessage(`Kenetic: this server does not offer ${method} yet (kenetic ${client.initializeResult?.serverInfo?.version ?? '?'}).`);
            } else if (!token?.isCancellationRequested) {
                void vscode.window.showErrorMessage(`Kenetic: ${method} failed: ${describeError(err)}`);
            }
            kenetic.output.warn(`${method}: ${describeError(err)}`);
            return undefined;
        }
    }

    async function serverCommand<R>(command: string, args: unknown[] = []): Promise<R | undefined> {
        const client = await kenetic.ready();
        if (!client) {
            return undefined;
        }
        const offered = client.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
        if (!offered.includes(command)) {
            void vscode.window.showWarningMessage(`Kenetic: this server does not offer ${command} yet.`);
            return undefined;
        }
        try {
            return await client.sendRequest<R>('workspace/executeCommand', args.length ? { command, arguments: args } : { command });
        } catch (err) {
            void vscode.window.showErrorMessage(`Kenetic: ${command} failed: ${describeError(err)}`);
            kenetic.output.warn(`${command}: ${describeError(err)}`);
            return undefined;
        }
    }

    async function pickSkill(placeHolder: string, language?: string): Promise<SkillSummary | undefined> {
        const answer = await request<{ skills?: SkillSummary[] } | SkillSummary[]>('kenetic/skills', language ? { language } : {});
        if (answer === undefined) {
            return undefined;
        }
        const skills = Array.isArray(answer) ? answer : answer.skills ?? [];
        if (!skills.length) {
            void vscode.window.showInformationMessage(
                language
                    ? `Kenetic has no ${language} skills yet: make the same kind of edit twice and it learns one.`
                    : 'Kenetic has no skills yet: make the same kind of edit twice and it learns one.',
            );
            return undefined;
        }
        const items = skills.map((skill) => ({
            label: skill.name,
            description: [skill.language, skill.support ? `${skill.support} examples` : ''].filter(Boolean).join(' · '),
            detail: skill.before !== undefined && skill.after !== undefined ? `${oneLine(skill.before)}  →  ${oneLine(skill.after)}` : undefined,
            skill,
        }));
        const picked = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true });
        return picked?.skill;
    }

    const showSkills = async (id?: string) => {
        const skill = id ? { id, name: id } : await pickSkill('Kenetic skills — pick one to see its card');
        if (!skill) {
            return;
        }
        const answer = await request<unknown>('kenetic/skill', { id: skill.id });
        if (answer === undefined) {
            return;
        }
        const uri = pages.set(`/skill/${skill.id}.md`, skillCard(answer));
        await vscode.commands.executeCommand('markdown.showPreview', uri);
        return uri;
    };

    const applySkillInFile = async (id?: string) => {
        const editor = vscode.window.activeTextEditor;
        if (!editor) {
            void vscode.window.showInformationMessage('Kenetic: open a file to apply a skill in it.');
            return;
        }
        const doc = editor.document;
        const skillId = id ?? (await pickSkill(`Apply which skill everywhere in ${vscode.workspace.asRelativePath(doc.uri)}?`, doc.languageId))?.id;
        if (!skillId) {
            return;
        }
        const client = await kenetic.ready();
        const uri = client ? client.code2ProtocolConverter.asUri(doc.uri) : doc.uri.toString();
        const answer = await serverCommand<unknown>('kenetic.applySkill', [{ id: skillId, uri, scope: 'file' }]);
        if (answer === undefined) {
            return undefined;
        }
        const message = appliedMessage(answer);
        void vscode.window.showInformationMessage(message);
        return { ...(answer as object), message };
    };

    /** Kenetic: Export Skill as Rule — pick a skill, a format and a folder (the workspace's
     * .kenetic/rules/ unless the user picks one); the server writes the rule and its test.
     * Given arguments (skill id, format, folder), it asks nothing. */
    const exportSkill = async (id?: string, format?: string, dir?: string) => {
        const skill = id ? { id, name: id } : await pickSkill('Export which skill as a codemod rule?');
        if (!skill) {
            return undefined;
        }
        let fmt = format;
        if (!fmt) {
            const formats = [
                { label: 'ast-grep', description: 'rule + ast-grep test, run with `ast-grep scan` / `ast-grep test`' },
                { label: 'semgrep', description: 'rule + annotated test file, run with `semgrep --test`' },
            ];
            fmt = (await vscode.window.showQuickPick(formats, { placeHolder: `Export "${skill.name}" as` }))?.label;
            if (!fmt) {
                return undefined;
            }
        }
        let folder = dir;
        if (folder === undefined && id === undefined) {
            const places = [
                { label: '.kenetic/rules/', description: 'in the workspace', choose: false },
                { label: 'Choose a folder…', description: '', choose: true },
            ];
            const where = await vscode.window.showQuickPick(places, { placeHolder: 'Write the rule where?' });
            if (!where) {
                return undefined;
            }
            if (where.choose) {
                const chosen = await vscode.window.showOpenDialog({
                    canSelectFiles: false,
                    canSelectFolders: true,
                    canSelectMany: false,
                    openLabel: 'Export here',
                    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
                });
                if (!chosen?.length) {
                    return undefined;
                }
                folder = chosen[0].fsPath;
            }
        }
        const answer = await serverCommand<ExportAnswer>('kenetic.exportSkill', [{ skillId: skill.id, format: fmt, ...(folder ? { dir: folder } : {}) }]);
        if (!answer?.skill) {
            return answer;
        }
        const { rule, verdict, reasons } = answer.skill;
        if (!rule) {
            const why = (reasons ?? []).join('; ') || verdict;
            void vscode.window.showWarningMessage(`Kenetic: "${answer.skill.name}" cannot be written as a ${fmt} rule: ${why}`);
            return answer;
        }
        const where = vscode.workspace.asRelativePath(vscode.Uri.file(rule));
        const note = verdict === 'exact' ? '' : ` (${verdict}: see the comments at its top)`;
        void vscode.window.showInformationMessage(`Kenetic: wrote ${where}${note}.`);
        if (!id) {
            await vscode.window.showTextDocument(vscode.Uri.file(rule), { preview: true });
        }
        return answer;
    };

    const showNextEdits = async () => {
        const editor = vscode.window.activeTextEditor;
        const client = await kenetic.ready();
        if (!editor || !client) {
            return;
        }
        const c2p = client.code2ProtocolConverter;
        const p2c = client.protocol2CodeConverter;
        const answer = await request<{ edits?: NextEdit[] }>('kenetic/nextEdits', {
            textDocument: { uri: c2p.asUri(editor.document.uri) },
            position: c2p.asPosition(editor.selection.active),
        });
        const edits = answer?.edits ?? [];
        if (!answer) {
            return;
        }
        if (!edits.length) {
            void vscode.window.showInformationMessage('Kenetic: no next edits here.');
            return;
        }
        const origin = { uri: editor.document.uri, selection: editor.selection };
        const items = edits.map((edit) => {
            const uri = p2c.asUri(edit.uri);
            const range = p2c.asRange(edit.range);
            return {
                label: `${vscode.workspace.asRelativePath(uri)}:${range.start.line + 1}`,
                description: edit.score !== undefined ? `score ${edit.score.toFixed(2)}` : undefined,
                detail: `→ ${oneLine(edit.newText)}`,
                uri,
                range,
                edit,
            };
        });
        const quick = vscode.window.createQuickPick<(typeof items)[number]>();
        quick.items = items;
        quick.placeholder = 'Kenetic next edits — move to preview a place, Enter to apply the edit there';
        quick.matchOnDetail = true;
        const preview = async (item: (typeof items)[number] | undefined) => {
            if (!item) {
                return;
            }
            const shown = await vscode.window.showTextDocument(item.uri, { preserveFocus: true, preview: true, selection: item.range });
            shown.revealRange(item.range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
        };
        let accepted = false;
        quick.onDidChangeActive((active) => void preview(active[0]));
        quick.onDidAccept(async () => {
            const item = quick.selectedItems[0];
            accepted = true;
            quick.hide();
            if (!item) {
                return;
            }
            const edit = new vscode.WorkspaceEdit();
            edit.replace(item.uri, item.range, item.edit.newText);
            if ((await vscode.workspace.applyEdit(edit)) && item.edit.suggestionId) {
                await serverCommand('kenetic.recordOutcome', [{ suggestionId: item.edit.suggestionId }]);
            }
        });
        quick.onDidHide(async () => {
            quick.dispose();
            if (!accepted) {
                await vscode.window.showTextDocument(origin.uri, { selection: origin.selection });
            }
        });
        quick.show();
        return items.length;
    };

    const session = (command: 'kenetic.freeze' | 'kenetic.newSession') => async () => {
        const answer = await serverCommand<{ sessionId?: string; frozenSession?: string; patterns?: unknown[] }>(command, []);
        if (answer) {
            const msg =
                command === 'kenetic.freeze'
                    ? `Kenetic: session ${answer.frozenSession ?? ''} frozen${answer.patterns?.length ? `, ${answer.patterns.length} patterns learned` : ''}; new session ${answer.sessionId ?? ''}.`
                    : `Kenetic: new session ${answer.sessionId ?? ''}.`;
            void vscode.window.showInformationMessage(msg);
        }
        return answer;
    };

    const runAgentTask = async (task?: string) => {
        const client = await kenetic.ready();
        if (!client) {
            return;
        }
        task ??= await vscode.window.showInputBox({
            title: 'Kenetic: Run Agent Task',
            prompt: 'What should the agent do? It can read, search and edit this workspace; commands ask first.',
            placeHolder: 'e.g. replace print calls with logging in this file',
            ignoreFocusOut: true,
        });
        if (!task?.trim()) {
            return;
        }
        const editor = vscode.window.activeTextEditor;
        const params: Record<string, unknown> = { task };
        if (editor && editor.document.uri.scheme === 'file') {
            params.textDocument = { uri: client.code2ProtocolConverter.asUri(editor.document.uri) };
            if (!editor.selection.isEmpty) {
                params.range = client.code2ProtocolConverter.asRange(editor.selection);
            }
        }
        return vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: 'Kenetic agent', cancellable: true },
            async (progress, token) => {
                progress.report({ message: task });
                try {
                    const result = await client.sendRequest<{ summary?: string; episodeId?: string | number }>('kenetic/agent/run', params, token);
                    kenetic.output.info(`agent: ${JSON.stringify(result)}`);
                    void vscode.window.showInformationMessage(`Kenetic agent: ${result?.summary ?? 'done'}`);
                    return result;
                } catch (err) {
                    if (token.isCancellationRequested) {
                        void vscode.window.showInformationMessage('Kenetic agent: cancelled.');
                    } else if (isMethodMissing(err)) {
                        void vscode.window.showWarningMessage('Kenetic: this server does not offer agent tasks (kenetic/agent/run) yet.');
                    } else if (reason(err) === 'noProvider') {
                        // not an error: agent tasks need an LLM provider set up (said once, as a warning)
                        void vscode.window.showWarningMessage(`Kenetic agent: ${describeError(err)}`);
                        kenetic.output.info(`kenetic/agent/run: ${describeError(err)}`);
                        return undefined;
                    } else {
                        void vscode.window.showErrorMessage(`Kenetic agent: ${describeError(err)}`);
                    }
                    kenetic.output.warn(`kenetic/agent/run: ${describeError(err)}`);
                    return undefined;
                }
            },
        );
    };

    const showStats = async () => {
        const stats = await request<Record<string, unknown>>('kenetic/stats', {});
        if (!stats) {
            return;
        }
        const uri = pages.set('/stats.md', `# Kenetic memory\n\n${fence(JSON.stringify(stats, null, 2), 'json')}\n`);
        await vscode.commands.executeCommand('markdown.showPreview', uri);
        return stats;
    };

    const train = async () => {
        const client = await kenetic.ready();
        if (!client) {
            return undefined;
        }
        try {
            const answer = await client.sendRequest<{ version?: unknown; ranker?: string }>('workspace/executeCommand', { command: 'kenetic.train' });
            void vscode.window.showInformationMessage(`Kenetic: ranker trained${answer?.version !== undefined ? ` (trm v${answer.version})` : ''}.`);
            return answer;
        } catch (err) {
            // too few outcomes is not an error: say once, as information, how many are needed
            const data = err instanceof ResponseError ? (err.data as { outcomes?: number; minOutcomes?: number } | undefined) : undefined;
            if (data?.minOutcomes !== undefined) {
                void vscode.window.showInformationMessage(`Kenetic: not enough outcomes to train the ranker yet (${data.outcomes ?? 0} of ${data.minOutcomes}).`);
                kenetic.output.info(`kenetic.train: ${describeError(err)}`);
                return { trained: false, ...data };
            }
            void vscode.window.showErrorMessage(`Kenetic: training failed: ${describeError(err)}`);
            kenetic.output.warn(`kenetic.train: ${describeError(err)}`);
            return undefined;
        }
    };

    context.subscriptions.push(
        vscode.commands.registerCommand('kenetic.client.train', train),
        vscode.commands.registerCommand('kenetic.client.showSkills', showSkills),
        vscode.commands.registerCommand('kenetic.client.applySkillInFile', applySkillInFile),
        vscode.commands.registerCommand('kenetic.client.exportSkill', exportSkill),
        vscode.commands.registerCommand('kenetic.client.showNextEdits', showNextEdits),
        vscode.commands.registerCommand('kenetic.client.freeze', session('kenetic.freeze')),
        vscode.commands.registerCommand('kenetic.client.newSession', session('kenetic.newSession')),
        vscode.commands.registerCommand('kenetic.client.runAgentTask', runAgentTask),
        vscode.commands.registerCommand('kenetic.client.showStats', showStats),
        vscode.commands.registerCommand('kenetic.client.restart', () => kenetic.restart()),
        vscode.commands.registerCommand('kenetic.client.showOutput', () => kenetic.output.show()),
    );
}

function oneLine(text: string): string {
    const flat = text.replace(/\s+/g, ' ').trim();
    return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}

export type { LanguageClient };
