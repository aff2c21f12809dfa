-- Headless Neovim test of the next-edit flow and the client fixes of issue 19 (run by
-- tests/editors/test_nvim.py). The server runs with its default capture.idleGapMs (1500 ms).
-- Writes KENETIC_TEST_RESULT like init.lua; `latency` steps carry the measured times.

local H = dofile(assert(os.getenv('KENETIC_REPO')) .. '/tests/editors/nvim/harness.lua')
local step, poll, sleep, line, request = H.step, H.poll, H.sleep, H.line, H.request

-- the user's own mappings, made before kenetic loads: kenetic must leave them alone
vim.keymap.set('i', '<M-h>', function()
  vim.g.user_mh = (vim.g.user_mh or 0) + 1
end, { desc = 'user: insert <M-h>' })
vim.keymap.set('n', '<Esc>', function()
  vim.g.user_esc = (vim.g.user_esc or 0) + 1
end, { desc = 'user: normal <Esc>' })

vim.opt.rtp:prepend(H.repo .. '/editors/nvim')
vim.cmd('filetype on')
vim.cmd('runtime plugin/kenetic.lua')

local progress = {}
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(ev)
    local v = ev.data.params.value
    if v.kind == 'begin' then
      table.insert(progress, v.title)
    end
  end,
})

require('kenetic').setup({ cmd = { assert(os.getenv('KENETIC_BIN')), 'serve' } })

-- a client without these modules fails their steps, not the whole run
local function module(name)
  local ok, m = pcall(require, name)
  return ok and m or setmetatable({}, {
    __index = function()
      error(name .. ' is missing')
    end,
  })
end
local nextedit = module('kenetic.nextedit')
local commands = require('kenetic.commands')
local nextcmds = module('kenetic.nextcmds')

local function marked()
  local m = nextedit.current()
  if not m or not m.here then
    return nil
  end
  local marks = vim.api.nvim_buf_get_extmarks(m.bufnr, nextedit.ns, 0, -1, { details = true })
  for _, mk in ipairs(marks) do
    local vt = mk[4].virt_text
    if vt and mk[2] == m.edit.range.start.line then
      return { row = mk[2] + 1, preview = vt[1][1], sign = mk[4].sign_text, edit = m.edit }
    end
  end
end

local function feed(keys)
  vim.api.nvim_feedkeys(vim.keycode(keys), 'mt', false)
end

local function ms(t0, t1)
  return math.floor((t1 - t0) / 1e6)
end

H.run(function()
  step('attach to the workspace', function()
    vim.cmd.edit(vim.fn.fnameescape(H.ws .. '/app.py'))
    poll(15000, function()
      local c = H.client()
      return c and c.initialized
    end, 'the kenetic client')
  end)
  if not H.client() then
    return
  end

  local first
  step('two edits: the next site is marked with its preview', function()
    vim.cmd('5s/print/logger.info/')
    sleep(1800) -- the default idle gap closes the first burst: two episodes
    local t_edit = vim.uv.hrtime()
    vim.cmd('7s/print/logger.info/')
    first = poll(15000, marked, 'a marked next edit')
    local text = line(first.row)
    assert(text:match('print%('), 'marked line is not a print: ' .. text)
    local want = vim.trim((text:gsub('print', 'logger.info', 1)))
    assert(first.preview:find(want, 1, true), ('preview %q, expected %q'):format(first.preview, want))
    assert(first.sign and first.sign ~= '', 'no sign')
    return { row = first.row, preview = first.preview, latency_ms = ms(t_edit, nextedit.marked_at) }
  end)
  if not first then
    return
  end

  step('the next key jumps to the marked site', function()
    vim.api.nvim_win_set_cursor(0, { 1, 0 })
    feed('<M-l>')
    poll(3000, function()
      return vim.api.nvim_win_get_cursor(0)[1] == first.row
    end, 'the cursor on line ' .. first.row)
    assert(line(first.row):match('print%('), 'jumping changed the text')
  end)

  local second
  step('the same key accepts; the next site is marked (latency)', function()
    feed('<M-l>')
    poll(3000, function()
      return line(first.row):match('logger%.info%(')
    end, function()
      return 'the edit applied on line ' .. first.row .. ': ' .. line(first.row)
    end)
    local t_accept = nextedit.changed_at
    second = poll(5000, function()
      local m = marked()
      return m and m.row ~= first.row and m
    end, 'the next site marked')
    assert(line(second.row):match('print%('), 'marked: ' .. line(second.row))
    return { row = second.row, latency_ms = ms(t_accept, nextedit.marked_at) }
  end)

  step('dismiss (<Plug>(kenetic-dismiss)) sends rejected; the site is not offered again', function()
    assert(second, 'nothing marked')
    feed('<Plug>(kenetic-dismiss)')
    poll(3000, function()
      local m = marked()
      return not m or m.row ~= second.row
    end, 'the mark gone from line ' .. second.row)
    assert(vim.g.user_esc == nil, 'the user <Esc> mapping ran on a <Plug> key')
    local stats
    poll(3000, function()
      stats = request('kenetic/stats')
      return stats.outcomes.rejected >= 1
    end, 'a rejected outcome')
    assert(stats.outcomes.accepted == 1, 'accepted ' .. tostring(stats.outcomes.accepted))
    return stats.outcomes
  end)

  step('the server offers a dismissed site no more', function()
    assert(second, 'nothing was dismissed')
    local uri = vim.uri_from_bufnr(0)
    local edits = request('kenetic/nextEdits', { textDocument = { uri = uri } }).edits
    for _, e in ipairs(edits) do
      assert(e.range.start.line + 1 ~= second.row, 'line ' .. second.row .. ' offered again')
    end
    return #edits
  end)

  step('a pre-existing user mapping on a default key still works', function()
    feed('i<M-h><Esc>')
    poll(2000, function()
      return vim.g.user_mh == 1
    end, "the user's insert-mode <M-h> mapping")
    feed('<Esc>')
    poll(2000, function()
      return vim.g.user_esc == 1
    end, "the user's normal-mode <Esc> mapping")
    local ml = vim.fn.maparg('<M-l>', 'n', false, true)
    assert((ml.desc or ''):match('kenetic'), 'free <M-l> not given the kenetic default: ' .. vim.inspect(ml))
    assert(vim.fn.maparg('<Esc>', 'n', false, true).desc == 'user: normal <Esc>', '<Esc> taken over')
    assert(vim.fn.maparg('<M-h>', 'i', false, true).desc == 'user: insert <M-h>', 'insert <M-h> taken over')
  end)

  local function ensure_mark()
    if not marked() then
      nextedit.request(0)
    end
    return poll(5000, marked, 'a marked next edit')
  end

  step(':Kenetic why shows the skill card; rename from there', function()
    local m = ensure_mark()
    commands.last_card = nil
    H.pick = function(items)
      return items[2] -- Rename…
    end
    H.input = 'print to logger'
    vim.cmd('Kenetic why')
    poll(5000, function()
      return commands.last_card
    end, 'the card')
    assert(vim.list_contains(H.shown_items, 'Never suggest this'), vim.inspect(H.shown_items))
    poll(5000, function()
      return request('kenetic/skill', { id = m.edit.skillId }).name == 'print to logger'
    end, 'the skill renamed')
    H.pick = function(items)
      return items[1]
    end
    return commands.last_card:sub(1, 120)
  end)

  step(':Kenetic toggle turns suggestions off for the buffer, and on again', function()
    local offered = vim.tbl_get(H.client().server_capabilities, 'executeCommandProvider', 'commands') or {}
    assert(vim.list_contains(offered, 'kenetic.toggleSuggestions'), 'the server offers no kenetic.toggleSuggestions yet')
    ensure_mark()
    local uri = vim.uri_from_bufnr(0)
    nextcmds.last_toggle = nil
    vim.cmd('Kenetic toggle')
    poll(5000, function()
      return nextcmds.last_toggle
    end, 'the toggle answer')
    assert(nextcmds.last_toggle.enabled == false, vim.inspect(nextcmds.last_toggle))
    assert(not marked(), 'still marked')
    assert(#request('kenetic/nextEdits', { textDocument = { uri = uri } }).edits == 0, 'edits while off')
    assert(require('kenetic').status():match('off'), 'status: ' .. require('kenetic').status())
    nextcmds.last_toggle = nil
    vim.cmd('Kenetic toggle')
    poll(5000, function()
      return nextcmds.last_toggle
    end, 'the toggle answer')
    assert(nextcmds.last_toggle.enabled == true, vim.inspect(nextcmds.last_toggle))
    local answer = request('kenetic/nextEdits', { textDocument = { uri = uri } })
    assert(#answer.edits > 0, 'no edits when on: ' .. vim.inspect(answer))
  end)

  local skill_id
  step(':Kenetic acceptAllInFile applies the rest; then "Nothing to apply" (bug 1)', function()
    skill_id = ensure_mark().edit.skillId
    local from = #H.messages + 1
    vim.cmd('Kenetic acceptAllInFile')
    local applied = poll(5000, function()
      return H.messages_matching('Applied %d+ place', from)[1]
    end, 'the Applied message')
    poll(3000, function()
      return not table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n'):match('print%(')
    end, 'every print rewritten')
    from = #H.messages + 1
    vim.cmd('Kenetic apply ' .. skill_id)
    poll(5000, function()
      return H.messages_matching('Nothing to apply', from)[1]
    end, '"Nothing to apply"')
    return applied.msg
  end)

  step('a site in another file is a hint with its name; next opens it there', function()
    local other = H.ws .. '/other.py'
    local f = assert(io.open(other, 'w'))
    f:write('import logging\nlogger = logging.getLogger(__name__)\n\n\ndef g(q):\n    print(q)\n')
    f:close()
    local app = vim.api.nvim_get_current_buf()
    nextedit.request(app)
    local m = poll(5000, function()
      local cur = nextedit.current()
      return cur and not cur.here and cur
    end, 'a hint to another file')
    local hint = vim.api.nvim_buf_get_extmarks(app, nextedit.ns, 0, -1, { details = true })[1]
    local text = hint and hint[4].virt_text[1][1] or ''
    assert(text:match('other%.py:6: logger%.info%(q%)'), 'hint: ' .. text)
    feed('<M-l>')
    poll(5000, function()
      return vim.api.nvim_buf_get_name(0) == other and vim.api.nvim_win_get_cursor(0)[1] == 6
    end, 'other.py:6 open')
    assert(marked(), 'the site is not marked in other.py')
    feed('<M-l>')
    poll(5000, function()
      return line(6) == '    logger.info(q)'
    end, function()
      return 'the edit applied in other.py: ' .. tostring(line(6))
    end)
    vim.cmd('silent write')
    vim.api.nvim_set_current_buf(app)
    return { hint = text, uri = m.edit.uri }
  end)

  step('skill ids complete after :Kenetic apply and :Kenetic skill', function()
    for _, sub in ipairs({ 'apply', 'skill' }) do
      local got = vim.fn.getcompletion('Kenetic ' .. sub .. ' ', 'cmdline')
      assert(vim.list_contains(got, skill_id), sub .. ': ' .. vim.inspect(got))
    end
  end)

  step(':Kenetic train with too few outcomes: one warning, progress reported (bug 7)', function()
    local from = #H.messages + 1
    vim.cmd('Kenetic train')
    poll(15000, function()
      return #H.messages >= from
    end, 'an answer to :Kenetic train')
    sleep(500)
    local said = vim.list_slice(H.messages, from)
    assert(#said == 1, 'messages: ' .. vim.inspect(said))
    assert(said[1].level == vim.log.levels.WARN, 'level ' .. tostring(said[1].level) .. ': ' .. said[1].msg)
    assert(vim.iter(progress):any(function(t)
      return t:match('train')
    end), 'no training progress: ' .. vim.inspect(progress))
    return { said = said[1].msg, progress = progress }
  end)

  step(':Kenetic stats is a card with the TRM once (bug 7)', function()
    commands.last_stats_text = nil
    vim.cmd('Kenetic stats')
    local text = poll(5000, function()
      return commands.last_stats_text
    end, 'the stats card')
    local _, trm = text:gsub('TRM', '')
    assert(trm == 1, ('TRM %d times:\n%s'):format(trm, text))
    assert(not text:match('%f[%d]1 skills'), text)
    assert(text:match('%d+ accepted, %d+ rejected'), text)
    return text
  end)

  step(':Kenetic cancel after a failed agent task (bug 2)', function()
    local from = #H.messages + 1
    vim.cmd('Kenetic agent say hello')
    -- The server may show its warning (window/showMessage) before the error answer arrives, so
    -- wait for the answer itself: the held request is dropped when it comes.
    poll(20000, function()
      return commands.agent_request == nil
    end, 'the agent answer (the request is still held)')
    assert(H.messages_matching('agent:', from)[1] or vim.iter(vim.list_slice(H.messages, from)):any(function(m)
      return (m.level or 0) >= vim.log.levels.WARN
    end), 'no answer shown: ' .. vim.inspect(vim.list_slice(H.messages, from)))
    local from2 = #H.messages + 1
    vim.cmd('Kenetic cancel')
    assert(H.messages_matching('no agent task is running', from2)[1], vim.inspect(vim.list_slice(H.messages, from2)))
    return vim.list_slice(H.messages, from, from2 - 1)
  end)

  step(':help kenetic-next opens (bug 4)', function()
    vim.cmd('help kenetic-next')
    assert(vim.api.nvim_buf_get_name(0):match('kenetic%.txt$'), vim.api.nvim_buf_get_name(0))
    vim.cmd('help kenetic')
    vim.cmd('close')
  end)

  step('require("kenetic").status() for the statusline', function()
    local s = require('kenetic').status()
    assert(s:match('^kenetic'), s)
    return s
  end)
end)
