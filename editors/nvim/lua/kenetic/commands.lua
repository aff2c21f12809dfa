-- :Kenetic subcommands. Each asks the server and shows the answer with Neovim's own pieces:
-- vim.ui.select / vim.ui.input, floating previews, the quickfix list, notifications.

local kenetic = require('kenetic')
local nextcmds = require('kenetic.nextcmds')

local M = {}

local function one_line(text, limit)
  text = (text or ''):gsub('%s+', ' ')
  limit = limit or 60
  if #text > limit then
    return text:sub(1, limit - 3) .. '...'
  end
  return text
end

local function lines_of(text)
  return vim.split(text, '\n', { plain = true })
end

local function fence(text, lang)
  return '```' .. (lang or '') .. '\n' .. text .. '\n```'
end

--- The markdown card of a skill: the server's own when it sends one, else its fields.
function M.card(answer)
  if type(answer) == 'string' then
    return answer
  end
  answer = answer or {}
  for _, key in ipairs({ 'markdown', 'card' }) do
    if type(answer[key]) == 'string' then
      return answer[key]
    end
  end
  local skill = type(answer.skill) == 'table' and answer.skill or answer
  local lang = type(skill.language) == 'string' and skill.language or ''
  local parts = { '# ' .. tostring(skill.name or skill.id or 'skill'), '' }
  local facts = {}
  for _, key in ipairs({ 'language', 'support', 'specificity' }) do
    if skill[key] ~= nil and skill[key] ~= vim.NIL then
      table.insert(facts, ('%s **%s**'):format(key, tostring(skill[key])))
    end
  end
  if #facts > 0 then
    vim.list_extend(parts, { table.concat(facts, ' · '), '' })
  end
  if type(skill.before) == 'string' then
    vim.list_extend(parts, { '## Before', '', fence(skill.before, lang), '' })
  end
  if type(skill.after) == 'string' then
    vim.list_extend(parts, { '## After', '', fence(skill.after, lang), '' })
  end
  if type(skill.outcomes) == 'table' then
    table.insert(parts, '## Outcomes')
    table.insert(parts, '')
    local keys = vim.tbl_keys(skill.outcomes)
    table.sort(keys)
    for _, key in ipairs(keys) do
      table.insert(parts, ('- %s: %s'):format(key, (vim.inspect(skill.outcomes[key]):gsub('%s+', ' '))))
    end
    table.insert(parts, '')
  end
  local examples = type(skill.examples) == 'table' and skill.examples or {}
  if #examples > 0 then
    vim.list_extend(parts, { ('## Examples (%d)'):format(#examples), '' })
    for i = 1, math.min(5, #examples) do
      local ex = examples[i]
      if type(ex) == 'table' and type(ex.before) == 'string' and type(ex.after) == 'string' then
        local where = type(ex.uri) == 'string' and (' — ' .. vim.fn.fnamemodify(vim.uri_to_fname(ex.uri), ':~:.')) or ''
        table.insert(parts, ('Episode %s%s'):format(tostring(ex.episodeId or '?'), where))
        table.insert(parts, '')
        table.insert(parts, fence(ex.before:gsub('%s+$', '') .. '\n→\n' .. ex.after:gsub('%s+$', ''), lang))
        table.insert(parts, '')
      end
    end
  end
  table.insert(parts, ('id `%s`%s'):format(tostring(skill.id or '?'), type(skill.store) == 'string' and (' · store ' .. skill.store) or ''))
  return table.concat(parts, '\n')
end

local function float(text, filetype, focus_id)
  local _, win = vim.lsp.util.open_floating_preview(lines_of(text), filetype, {
    border = 'rounded',
    focus_id = focus_id,
    max_width = math.max(60, math.floor(vim.o.columns * 0.7)),
    max_height = math.max(10, math.floor(vim.o.lines * 0.7)),
  })
  return win
end

local function skills_list(result)
  if type(result) ~= 'table' then
    return {}
  end
  return result.skills or (vim.islist(result) and result) or {}
end

--- vim.ui.select over the server's skills; `on_choice(skill)`.
function M.pick_skill(prompt, on_choice)
  kenetic.request('kenetic/skills', vim.empty_dict(), function(result)
    local skills = skills_list(result)
    if #skills == 0 then
      kenetic.notify('no skills yet: make the same kind of edit twice and kenetic learns one')
      return
    end
    vim.ui.select(skills, {
      prompt = prompt,
      kind = 'kenetic.skill',
      format_item = function(skill)
        local text = skill.name or skill.id
        if skill.before and skill.after then
          text = ('%s  [%s → %s]'):format(text, one_line(skill.before, 30), one_line(skill.after, 30))
        end
        if skill.language then
          text = text .. '  (' .. skill.language .. ')'
        end
        return text
      end,
    }, function(skill)
      if skill then
        on_choice(skill)
      end
    end)
  end)
end

function M.skill(id)
  if not id or id == '' then
    return M.skills()
  end
  kenetic.request('kenetic/skill', { id = id }, function(result)
    M.last_card = M.card(result)
    float(M.last_card, 'markdown', 'kenetic_skill')
  end)
end

function M.skills()
  M.pick_skill('Kenetic skills', function(skill)
    M.skill(skill.id)
  end)
end

function M.apply(id)
  local bufnr = vim.api.nvim_get_current_buf()
  local function apply(skill_id)
    local client = kenetic.client(bufnr)
    if not client then
      return
    end
    local pos = vim.lsp.util.make_position_params(0, client.offset_encoding).position
    kenetic.exec('kenetic.applySkill', {
      id = skill_id,
      uri = vim.uri_from_bufnr(bufnr),
      scope = 'file',
      position = pos,
    }, function(result)
      M.last_applied = result
      kenetic.notify((nextcmds.applied_message(result)))
    end, bufnr)
  end
  if id and id ~= '' then
    apply(id)
  else
    M.pick_skill('Apply which skill in this file?', function(skill)
      apply(skill.id)
    end)
  end
end

function M.next()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = kenetic.client(bufnr)
  if not client then
    return kenetic.notify('the server is not running', vim.log.levels.WARN)
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  kenetic.request('kenetic/nextEdits', params, function(result)
    local edits = type(result) == 'table' and result.edits or {}
    if #edits == 0 then
      kenetic.notify('no next edits here')
      return
    end
    local items = {}
    for _, edit in ipairs(edits) do
      local fname = vim.uri_to_fname(edit.uri)
      local ebuf = vim.fn.bufadd(fname)
      vim.fn.bufload(ebuf)
      local line = vim.api.nvim_buf_get_lines(ebuf, edit.range.start.line, edit.range.start.line + 1, false)[1] or ''
      local col = vim.lsp.util._get_line_byte_from_position(ebuf, edit.range.start, client.offset_encoding)
      table.insert(items, {
        filename = fname,
        lnum = edit.range.start.line + 1,
        col = col + 1,
        text = ('%s → %s'):format(vim.trim(line), one_line(edit.newText)),
        user_data = edit,
      })
    end
    vim.fn.setqflist({}, ' ', { title = 'Kenetic next edits', items = items })
    vim.cmd('botright copen')
  end, bufnr)
end

local function session(command)
  kenetic.exec(command, nil, function(result)
    result = result or {}
    if command == 'kenetic.freeze' then
      local patterns = result.patterns and #result.patterns or 0
      kenetic.notify(
        ('session %s frozen%s; new session %s'):format(
          result.frozenSession or '?',
          patterns > 0 and (', %d patterns learned'):format(patterns) or '',
          result.sessionId or '?'
        )
      )
    else
      kenetic.notify(('new session %s'):format(result.sessionId or '?'))
    end
  end)
end

function M.freeze()
  session('kenetic.freeze')
end

function M.new()
  session('kenetic.newSession')
end

function M.train()
  kenetic.exec('kenetic.train', nil, function(result)
    result = type(result) == 'table' and result or {}
    local parts = { ('trm v%s in use'):format(tostring(result.version or '?')) }
    for _, key in ipairs({ 'outcomes', 'steps' }) do
      if type(result[key]) == 'number' then
        table.insert(parts, ('%d %s'):format(result[key], key))
      end
    end
    kenetic.notify('ranker trained: ' .. table.concat(parts, ', '))
  end)
end

M.agent_request = nil

function M.cancel()
  local running = M.agent_request
  if running then
    running.client:cancel_request(running.id)
    M.agent_request = nil
    kenetic.notify('agent task cancelled')
  else
    kenetic.notify('no agent task is running')
  end
end

function M.agent(task)
  local bufnr = vim.api.nvim_get_current_buf()
  local function run(text)
    if not text or vim.trim(text) == '' then
      return
    end
    local params = { task = text }
    if vim.bo[bufnr].buftype == '' and vim.api.nvim_buf_get_name(bufnr) ~= '' then
      params.textDocument = { uri = vim.uri_from_bufnr(bufnr) }
    end
    kenetic.notify('agent working… (:Kenetic cancel stops it)')
    local done = false
    local id, client = kenetic.request('kenetic/agent/run', params, function(result)
      result = result or {}
      kenetic.notify('agent: ' .. tostring(result.summary or 'done'))
    end, bufnr, function()
      -- answered, failed or cancelled: nothing runs any more
      done = true
      M.agent_request = nil
    end)
    if id and client and not done then
      M.agent_request = { id = id, client = client }
    end
  end
  if task and task ~= '' then
    run(task)
  else
    vim.ui.input({ prompt = 'Kenetic agent task: ' }, run)
  end
end

function M.stats()
  kenetic.request('kenetic/stats', vim.empty_dict(), function(result)
    M.last_stats = result
    M.last_stats_text = nextcmds.stats_text(result)
    float(M.last_stats_text, 'markdown', 'kenetic_stats')
  end)
end

--- Export a skill as a codemod rule (kenetic.exportSkill): `:Kenetic export [ID [FORMAT [DIR]]]`,
--- or :KeneticExportSkill. What is not given is asked with vim.ui.select / vim.ui.input: the
--- skill, the format (ast-grep or semgrep), the folder (default: the workspace's .kenetic/rules/).
function M.export(rest)
  local args = vim.split(rest or '', '%s+', { trimempty = true })
  local bufnr = vim.api.nvim_get_current_buf()
  local function export(skill_id, format, dir)
    local params = { skillId = skill_id, format = format }
    if dir and dir ~= '' then
      params.dir = vim.fn.fnamemodify(vim.fn.expand(dir), ':p')
    end
    kenetic.exec('kenetic.exportSkill', params, function(result)
      M.last_export = result
      local skill = type(result) == 'table' and result.skill or {}
      if type(skill.rule) ~= 'string' then
        local why = table.concat(type(skill.reasons) == 'table' and skill.reasons or {}, '; ')
        kenetic.notify(('%s cannot be written as a %s rule: %s'):format(skill.name or skill_id, format,
          why ~= '' and why or tostring(skill.verdict)), vim.log.levels.WARN)
        return
      end
      local note = skill.verdict == 'exact' and '' or (' (%s: see the comments at its top)'):format(skill.verdict)
      kenetic.notify(('wrote %s%s'):format(vim.fn.fnamemodify(skill.rule, ':~:.'), note))
    end, bufnr)
  end
  local function ask_dir(skill_id, format)
    if args[1] then
      return export(skill_id, format, args[3])
    end
    vim.ui.input({ prompt = 'Export into (empty: .kenetic/rules/): ', completion = 'dir' }, function(dir)
      if dir ~= nil then
        export(skill_id, format, dir)
      end
    end)
  end
  local function ask_format(skill_id)
    if args[2] then
      return ask_dir(skill_id, args[2])
    end
    vim.ui.select({ 'ast-grep', 'semgrep' }, { prompt = 'Export as', kind = 'kenetic.format' }, function(format)
      if format then
        ask_dir(skill_id, format)
      end
    end)
  end
  if args[1] then
    ask_format(args[1])
  else
    M.pick_skill('Export which skill as a rule?', function(skill)
      ask_format(skill.id)
    end)
  end
end

M.subcommands = {
  skills = { run = M.skills, help = 'pick a skill and show its card' },
  skill = { run = M.skill, help = 'show the card of skill ID' },
  apply = { run = M.apply, help = 'apply a skill everywhere in this file' },
  export = { run = M.export, help = 'write a skill as an ast-grep or semgrep rule: export [ID [FORMAT [DIR]]]' },
  next = { run = M.next, help = 'the places the last edit applies next, in the quickfix list' },
  why = {
    run = function()
      nextcmds.why(function(result)
        M.last_card = M.card(result)
        float(M.last_card, 'markdown', 'kenetic_skill')
      end)
    end,
    help = "the marked next edit's skill card: never suggest it, rename it",
  },
  toggle = { run = nextcmds.toggle, help = 'suggestions off/on for this buffer (toggle!: the session)' },
  acceptAllInFile = {
    run = function(id)
      nextcmds.accept_all('file', id)
    end,
    help = "apply the marked next edit's skill everywhere in this file",
  },
  acceptAll = {
    run = function(id)
      nextcmds.accept_all('workspace', id)
    end,
    help = "apply the marked next edit's skill across the workspace",
  },
  freeze = { run = M.freeze, help = 'freeze the session (learn from it), start a new one' },
  new = { run = M.new, help = 'start a new session' },
  agent = { run = M.agent, help = 'run an agent task' },
  cancel = { run = M.cancel, help = 'cancel the running agent task' },
  stats = { run = M.stats, help = 'what kenetic has stored and learned' },
  train = { run = M.train, help = 'train the ranker now' },
}

--- Skill ids for :Kenetic skill|apply completion (asks the server, at most 1 s).
function M.complete_skill_ids(arglead)
  local client = kenetic.client(0)
  if not client then
    return {}
  end
  local answer = client:request_sync('kenetic/skills', vim.empty_dict(), 1000, 0)
  local ids = {}
  for _, skill in ipairs(answer and answer.result and skills_list(answer.result) or {}) do
    if type(skill.id) == 'string' and vim.startswith(skill.id, arglead) then
      table.insert(ids, skill.id)
    end
  end
  return ids
end

function M.complete(arglead, cmdline)
  local words = vim.split(cmdline, '%s+', { trimempty = true })
  local typing_first = #words == 1 or (#words == 2 and not cmdline:match('%s$'))
  if not typing_first then
    local sub = words[2]
    local typing_second = #words == 2 or (#words == 3 and not cmdline:match('%s$'))
    if typing_second and vim.list_contains({ 'skill', 'apply', 'export', 'acceptAllInFile', 'acceptAll' }, sub) then
      return M.complete_skill_ids(arglead)
    end
    if typing_second and sub == 'toggle' then
      return vim.tbl_filter(function(w)
        return vim.startswith(w, arglead)
      end, { 'on', 'off', 'session' })
    end
    return {}
  end
  local names = vim.tbl_keys(M.subcommands)
  table.sort(names)
  return vim.tbl_filter(function(name)
    return vim.startswith(name, arglead)
  end, names)
end

function M.run(opts)
  local sub = opts.fargs[1]
  local rest = table.concat(vim.list_slice(opts.fargs, 2), ' ')
  local entry = sub and M.subcommands[sub]
  if not entry then
    local names = vim.tbl_keys(M.subcommands)
    table.sort(names)
    kenetic.notify(('usage: :Kenetic {%s}'):format(table.concat(names, '|')), vim.log.levels.WARN)
    return
  end
  entry.run(rest ~= '' and rest or nil, opts.bang)
end

return M
