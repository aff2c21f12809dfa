// The user's controls: "Why this?" (the skill card with "Never suggest this" and rename), the
// suggestions toggle, and the menu the status item opens.

import * as vscode from 'vscode';
import { callServer } from './call';
import type { Kenetic } from './kenetic';
import type { NextEdits } from './nextEdit';

export type WhyAction = 'never' | 'rename';

export function registerControls(context: vscode.ExtensionContext, kenetic: Kenetic, nextEdits: NextEdits): void {
    /** Show the skill's card; offer "Never suggest this" and "Rename…". `action` answers for tests. */
    const whyThis = async (skillId?: string, action?: WhyAction, name?: string) => {
        if (!skillId) {
            void vscode.window.showInformationMessage('Kenetic: no suggestion to explain here.');
            return undefined;
        }
        await vscode.commands.executeCommand('kenetic.client.showSkills', skillId);
        const never = 'Never suggest this';
        const rename = 'Rename…';
        const picked =
            action ?? (await vscode.window.showInformationMessage(`Kenetic: suggested by skill ${skillId}.`, never, rename).then((p) => (p === never ? 'never' : p === rename ? 'rename' : undefined)));
        if (picked === 'never') {
            const answer = await callServer(kenetic, 'kenetic.deleteSkill', [{ id: skillId }]);
            if (answer !== undefined) {
                nextEdits.clear();
                void vscode.window.showInformationMessage('Kenetic: that skill is gone; it will not be suggested again.');
            }
            return answer;
        }
        if (picked === 'rename') {
            const newName = name ?? (await vscode.window.showInputBox({ title: 'Kenetic: rename skill', prompt: 'A name for this skill' }));
            if (!newName?.trim()) {
                return undefined;
            }
            return callServer(kenetic, 'kenetic.renameSkill', [{ id: skillId, name: newName.trim() }]);
        }
        return undefined;
    };

    /** kenetic.toggleSuggestions for the session, or (file = true) for the active document only. */
    const toggle = async (arg?: { enabled?: boolean; file?: boolean }) => {
        const client = await kenetic.ready();
        if (!client) {
            return undefined;
        }
        const params: Record<string, unknown> = {};
        if (arg?.enabled !== undefined) {
            params.enabled = arg.enabled;
        }
        const doc = vscode.window.activeTextEditor?.document;
        if (arg?.file && doc) {
            params.uri = client.code2ProtocolConverter.asUri(doc.uri);
        }
        const answer = await callServer<{ enabled: boolean; uri: string | null }>(kenetic, 'kenetic.toggleSuggestions', [params]);
        if (answer) {
            if (!answer.enabled) {
                nextEdits.clear();
            }
            const where = answer.uri ? ` in ${vscode.workspace.asRelativePath(vscode.Uri.parse(answer.uri))}` : '';
            void vscode.window.showInformationMessage(`Kenetic: suggestions ${answer.enabled ? 'on' : 'off'}${where}.`);
        }
        return answer;
    };

    const menu = async () => {
        const items: (vscode.QuickPickItem & { command: string; args?: unknown[] })[] = [
            { label: '$(eye-closed) Toggle Suggestions', description: 'this session', command: 'kenetic.client.toggleSuggestions' },
            { label: '$(file) Toggle Suggestions in This File', command: 'kenetic.client.toggleSuggestions', args: [{ file: true }] },
            { label: '$(mortar-board) Show Skills', command: 'kenetic.client.showSkills' },
            { label: '$(arrow-right) Show Next Edits', command: 'kenetic.client.showNextEdits' },
            { label: '$(output) Show Output', command: 'kenetic.client.showOutput' },
            { label: '$(gear) Settings', command: 'workbench.action.openSettings', args: ['@ext:kenetic.kenetic'] },
            { label: '$(debug-restart) Restart Server', command: 'kenetic.client.restart' },
        ];
        const picked = await vscode.window.showQuickPick(items, { placeHolder: 'Kenetic' });
        if (picked) {
            return vscode.commands.executeCommand(picked.command, ...(picked.args ?? []));
        }
        return undefined;
    };

    context.subscriptions.push(
        vscode.commands.registerCommand('kenetic.client.whyThis', whyThis),
        vscode.commands.registerCommand('kenetic.client.toggleSuggestions', toggle),
        vscode.commands.registerCommand('kenetic.client.menu', menu),
    );
}
